-- The customer page's database role: Propale's ledger only, and only what the page does there.
-- deploy/propale-page-role runs it in the ledger's database, as the ledger's owner, after
-- `propale db upgrade` (the tables must exist), then sets the role's password. Running it again
-- changes nothing. Airflow's metadata database is not in its grants.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'propale_page') THEN
        CREATE ROLE propale_page LOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO propale_page', current_database());
END
$$;
GRANT USAGE ON SCHEMA public TO propale_page;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM propale_page;
-- Opening the ledger checks its revision.
GRANT SELECT ON propale_alembic_version TO propale_page;
-- The page finds a proposal by its link's hash; an acceptance changes its status, and a payment
-- Stripe confirms on the customer's return records which session paid it (`paid_session_id`).
GRANT SELECT ON propale_proposals TO propale_page;
GRANT UPDATE (status, paid_session_id) ON propale_proposals TO propale_page;
GRANT SELECT, INSERT ON propale_acceptances TO propale_page;
GRANT SELECT, INSERT, UPDATE ON propale_checkout_sessions TO propale_page;
GRANT SELECT, INSERT, UPDATE, DELETE ON propale_checkout_claims TO propale_page;
GRANT USAGE ON SEQUENCE propale_acceptances_id_seq, propale_checkout_sessions_id_seq TO propale_page;
-- Its Stripe idempotency keys carry the installation id; its rate limit is shared in the ledger.
GRANT SELECT, INSERT ON propale_installation TO propale_page;
GRANT SELECT, INSERT, UPDATE, DELETE ON propale_rate_limits TO propale_page;
