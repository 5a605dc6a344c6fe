/* The dashboard on the admin's home page: headline, trend and the region drill-down (click a bar to descend,
   the breadcrumb to go back), drawn with the project's own copy of Apache ECharts. */
(function () {
  "use strict";
  var root = document.getElementById("stats-dashboard");
  if (!root || !window.echarts) { return; }
  var url = root.dataset.url;
  var trend = echarts.init(document.getElementById("stats-trend"));
  var drill = echarts.init(document.getElementById("stats-drill"));
  var children = [];
  var leaf = true;

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value === null || value === undefined ? "-" : value;
    if (cls) { el.className = cls; }
    return el;
  }

  function load(region) {
    var query = region ? "?region=" + encodeURIComponent(region) : "";
    fetch(url + query, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(draw);
  }

  function draw(data) {
    document.getElementById("stats-period").textContent = data.period[0] + " ~ " + data.period[1];
    document.getElementById("stats-fresh").textContent = data.fresh || "-";
    document.getElementById("stats-syncs").textContent = (data.syncs || []).map(function (sync) {
      return sync.name + " " + sync.applied_at;
    }).join("; ") || "-";
    var headline = document.getElementById("stats-headline");
    headline.replaceChildren();
    data.headline.forEach(function (item) {
      var box = document.createElement("div");
      box.dataset.key = item.key;
      box.appendChild(text("b", item.value));
      box.appendChild(text("span", item.label));
      headline.appendChild(box);
    });

    trend.setOption({
      tooltip: { trigger: "axis" },
      legend: { data: data.trend.series.map(function (s) { return s.name; }) },
      xAxis: { type: "category", data: data.trend.days },
      yAxis: { type: "value", minInterval: 1 },
      series: data.trend.series.map(function (s) { return { name: s.name, type: "line", data: s.data }; })
    }, true);

    var crumbs = document.getElementById("stats-breadcrumb");
    crumbs.replaceChildren();
    data.drill.breadcrumb.forEach(function (level, index) {
      if (index) { crumbs.appendChild(document.createTextNode(" › ")); }
      var link = text("a", level.name);
      link.dataset.code = level.code;
      link.addEventListener("click", function () { load(level.code === "100000" ? "" : level.code); });
      crumbs.appendChild(link);
    });

    children = data.drill.children;
    leaf = data.drill.leaf;
    var columns = data.columns.slice(0, 3);
    drill.setOption({
      tooltip: { trigger: "axis" },
      legend: { data: columns.map(function (c) { return c.header; }) },
      xAxis: { type: "category", data: children.map(function (r) { return r.label; }) },
      yAxis: { type: "value", minInterval: 1 },
      series: columns.map(function (c) {
        return { name: c.header, type: "bar", data: children.map(function (r) { return r[c.key]; }) };
      })
    }, true);

    var table = document.getElementById("stats-drill-table");
    var head = document.createElement("tr");
    head.appendChild(text("th", ""));
    data.columns.forEach(function (c) { head.appendChild(text("th", c.header)); });
    table.tHead.replaceChildren(head);
    var body = table.tBodies[0];
    body.replaceChildren();
    children.forEach(function (row) {
      var tr = document.createElement("tr");
      tr.dataset.code = row.key;
      var name = text("td", "");
      if (leaf) {
        name.textContent = row.label;
      } else {
        var link = text("a", row.label);
        link.href = "#";
        link.addEventListener("click", function (event) { event.preventDefault(); load(row.key); });
        name.appendChild(link);
      }
      tr.appendChild(name);
      data.columns.forEach(function (c) { tr.appendChild(text("td", row[c.key], "num")); });
      body.appendChild(tr);
    });
    root.dataset.region = data.drill.region;
    root.dataset.ready = "1";
  }

  drill.on("click", function (params) {
    var row = children[params.dataIndex];
    if (row && !leaf) { load(row.key); }
  });
  load("");
})();
