-- Run once by postgres on a fresh volume: one database per service (docs/architecture.md), each
-- with pg_trgm for the bilingual search, and the runtime role the migrations grant the services'
-- rights to (<SERVICE>_DATABASE_RUNTIME_ROLE, default tansiq_app), as ops/local/postgres.sh
-- makes them. Development credentials only (tansiq/tansiq, tansiq_app/tansiq_app).
CREATE ROLE tansiq_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD 'tansiq_app';
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
