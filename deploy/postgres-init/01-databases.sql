-- One PostgreSQL server, one database per tier. Run once by the postgres image on an empty data volume,
-- as POSTGRES_USER (the owner of all three).
CREATE DATABASE hc_ministry;
CREATE DATABASE hc_province;
CREATE DATABASE hc_city;
