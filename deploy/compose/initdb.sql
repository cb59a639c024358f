-- Run once by the postgres image on a fresh volume: one database per service (see
-- docs/architecture.md), each
-- with pg_trgm for the bilingual search. Development credentials only (tansiq/tansiq).
CREATE DATABASE registry;
CREATE DATABASE agreements;
CREATE DATABASE engagements;
CREATE DATABASE reporting;
\connect registry
CREATE EXTENSION IF NOT EXISTS pg_trgm;
\connect agreements
CREATE EXTENSION IF NOT EXISTS pg_trgm;
\connect engagements
CREATE EXTENSION IF NOT EXISTS pg_trgm;
\connect reporting
CREATE EXTENSION IF NOT EXISTS pg_trgm;
