-- Run once by the postgres image on an empty data directory (docker-compose).
-- The services connect as smez_app: a role that owns nothing and cannot
-- bypass row-level security. The `smez` role (POSTGRES_USER) owns the schemas;
-- `smez migrate` runs as it and grants smez_app its table rights.
CREATE ROLE smez_app LOGIN PASSWORD 'smez_app' NOSUPERUSER NOBYPASSRLS;
