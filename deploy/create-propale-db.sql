-- Propale's ledger, beside Airflow's metadata database (same server, same user).
CREATE DATABASE propale OWNER airflow;
