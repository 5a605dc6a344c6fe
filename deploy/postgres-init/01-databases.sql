-- One PostgreSQL server, one database per tier. Run once by the postgres image on an empty data volume,
-- as POSTGRES_USER (the owner of all three).
-- Collation C (byte order): for UTF-8 text it sorts exactly as C.UTF-8 (code point order, Chinese included),
-- but compares by memcmp, so the btree builds on random hex (blind indexes, chip serials) cost 3-4x less CPU
-- (docs/scale.md). LC_CTYPE stays C.UTF-8 so upper()/lower()/ILIKE and regex classes still know non-ASCII.
-- No column sets its own collation.
CREATE DATABASE hc_ministry TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C.UTF-8';
CREATE DATABASE hc_province TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C.UTF-8';
CREATE DATABASE hc_city TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C.UTF-8';
