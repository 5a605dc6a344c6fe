"""Reading the GB/T 2260 division codes from python-stdnum's cn/loc.dat (current codes only)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

from registry.choices import NATION_CODE

# A name is either plain ("岐山县") or a list of dated names ("[1983-1999]城区,[2000-]王益区").
DATED = re.compile(r"\[(\d{4})?-(\d{4})?\](.+)")
# Placeholders that are not divisions of their own: a city's "municipal districts" line, a
# municipality's old "counties" line, and the pre-1983 "urban area" lines.
PLACEHOLDERS = {"市辖区", "县", "市区", "郊区", "省直辖县级行政区划", "自治区直辖县级行政区划"}


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    parent: str | None


def current_name(raw: str) -> str | None:
    """The name in use today, or None if the code is retired."""
    current = None
    for part in raw.split(","):
        match = DATED.fullmatch(part.strip())
        if match is None:
            current = part.strip()
        elif match.group(2) is None:
            current = match.group(3).strip()
        else:
            current = None if part is raw.split(",")[-1] else current
    return current


def divisions() -> Iterator[Division]:
    """Every current province, prefecture-level city and county, parents before children."""
    text = resources.files("stdnum").joinpath("cn/loc.dat").read_text(encoding="utf-8")
    province_code = province_name = None
    cities: dict[str, str] = {}
    yield Division(NATION_CODE, "中华人民共和国", None)
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line.startswith(" "):
            code, rest = line.split(" ", 1)
            province_code = code + "0000"
            province_name = re.search(r'province="([^"]*)"', rest).group(1)
            cities = {}
            yield Division(province_code, province_name, NATION_CODE)
            continue
        suffix, rest = line.strip().split(" ", 1)
        code = province_code[:2] + suffix
        raw = re.search(r'county="([^"]*)"', rest).group(1)
        name = current_name(raw)
        if name is None or code == province_code:
            continue
        if code.endswith("00"):
            if name in PLACEHOLDERS:
                # Municipalities (北京, 上海 ...) list their districts under xx0100 "市辖区": keep the
                # level so the tree stays three deep, named after the province.
                name = f"{province_name}{name}"
            cities[code] = name
            yield Division(code, name, province_code)
        else:
            parent = code[:4] + "00"
            if name in PLACEHOLDERS:
                # xxxx01 "市辖区" is a current code (old ID numbers carry it): keep it, named after its city.
                if parent not in cities or name != "市辖区":
                    continue
                name = f"{cities[parent]}{name}" if not cities[parent].endswith("市辖区") else cities[parent]
            # Counties directly under a province (省直辖县级行政区划, xx90xx) hang from their 9000 line.
            yield Division(code, name, parent if parent in cities else province_code)
