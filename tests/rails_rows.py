"""The original ET API's database with rows in it, as the Rails app and its exporter leave them.

The tribunal offices, timestamps naive UTC, office codes an `integer[]`, a system the admin saved (null
`export_queue`), people whose addresses are rows of `addresses`, exports the Rails side
owns (one `created`, one `in_progress` with its Sidekiq job's event, two pending exports
of one response to one system, which the original allows) and a command it logged.
"""

from __future__ import annotations

import sqlalchemy as sa

from tests.original_schema import create_original_tables

SYSTEM_ID = 43
CASE_TYPE = "Manchester_Dev"
# Responses by id: their case numbers (Manchester, office 24).
RESPONSES = {1: "2400001/2025", 2: "2400002/2025", 3: "2400003/2025"}
RAILS_COMMAND_UUID = "5f0c3b1e-0d4e-4a8b-9c39-6a1b2c3d4e5f"
RAILS_EXPORT_IDS = (1, 2, 3, 4)

_ROWS = """
INSERT INTO schema_migrations (version) VALUES ('20251031072154'), ('20250101000000');
INSERT INTO ar_internal_metadata (key, value, created_at, updated_at)
    VALUES ('environment', 'production', '2025-11-01 08:00:00', '2025-11-01 08:00:00');
INSERT INTO offices (id, code, name, is_default, address, telephone, email, created_at, updated_at) VALUES
    (1, 24, 'Manchester', false, 'Alexandra House, Manchester', '0161 833 6100', 'manchesteret@justice.gov.uk',
     '2025-01-01 00:00:00', '2025-01-01 00:00:00');
SELECT setval(pg_get_serial_sequence('offices', 'id'), 1);
INSERT INTO offices (code, name, is_default, created_at, updated_at)
    SELECT code, name, code = 99, '2025-01-01 00:00:00', '2025-01-01 00:00:00' FROM (VALUES
        (13, 'Midlands West'), (14, 'Bristol'), (16, 'Wales'), (18, 'Leeds'), (22, 'London Central'),
        (23, 'London South'), (25, 'Newcastle'), (26, 'Midlands East'), (32, 'London East'), (33, 'Watford'),
        (41, 'Glasgow'), (60, 'England And Wales (Reform)'), (80, 'Scotland (Reform)'), (99, 'Default')
    ) AS standard (code, name);
INSERT INTO external_systems (id, name, reference, office_codes, enabled, export_queue, created_at, updated_at,
                              export_claims, export_responses, export_feedback_queue, always_save_export,
                              response_remote_office)
    VALUES (43, 'CCD Manchester', 'ccd_manchester', '{24}', true, NULL, '2025-01-01 00:00:00',
            '2025-01-01 00:00:00', true, true, 'default', false, false);
INSERT INTO external_system_configurations (external_system_id, key, value, created_at, updated_at)
    VALUES (43, 'case_type_id', 'Manchester_Dev', '2025-01-01 00:00:00', '2025-01-01 00:00:00');
INSERT INTO addresses (id, building, street, locality, county, post_code, country, created_at, updated_at) VALUES
    (1, '1', 'High Street', 'Manchester', 'Greater Manchester', 'M1 1AA', 'United Kingdom',
     '2025-11-02 09:00:00', '2025-11-02 09:00:00'),
    (2, '2', 'Deansgate', 'Manchester', NULL, 'M3 2BB', NULL, '2025-11-02 09:00:00', '2025-11-02 09:00:00');
INSERT INTO respondents (id, name, address_id, work_address_id, contact, disability, created_at, updated_at)
    VALUES (1, 'Acme Ltd', 1, 1, 'Jo Smith', 'false', '2025-11-02 09:00:00', '2025-11-02 09:00:00');
INSERT INTO representatives (id, name, organisation_name, address_id, representative_type, created_at, updated_at)
    VALUES (1, 'Sam Law', 'Law & Co', 2, 'Solicitor', '2025-11-02 09:00:00', '2025-11-02 09:00:00');
INSERT INTO responses (id, respondent_id, representative_id, date_of_receipt, reference, case_number,
                       claimants_name, agree_with_employment_dates, defend_claim, queried_hours,
                       pdf_template_reference, email_template_reference, office_id, created_at, updated_at) VALUES
    (1, 1, 1, '2025-11-02 09:00:00', '240000000001', '2400001/2025', 'Jo Bloggs', 'false', true, 37.50,
     'et3-v1-en', 'et3-v1-en', 1, '2025-11-02 09:00:00', '2025-11-02 09:00:00'),
    (2, 1, NULL, '2025-11-02 09:00:00', '240000000002', '2400002/2025', 'Al Bloggs', NULL, NULL, NULL,
     'et3-v1-en', 'et3-v1-en', 1, '2025-11-02 09:00:00', '2025-11-02 09:00:00'),
    (3, 1, NULL, '2025-11-02 09:00:00', '240000000003', '2400003/2025', 'Mo Bloggs', NULL, NULL, NULL,
     'et3-v1-en', 'et3-v1-en', 1, '2025-11-02 09:00:00', '2025-11-02 09:00:00');
INSERT INTO exports (id, resource_id, resource_type, external_system_id, state, created_at, updated_at) VALUES
    (1, 1, 'Response', 43, 'created', '2025-11-02 09:00:01', '2025-11-02 09:00:01');
INSERT INTO exports (id, resource_id, resource_type, external_system_id, state, percent_complete, message,
                     created_at, updated_at) VALUES
    (2, 3, 'Response', 43, 'in_progress', 0, 'Response export started', '2025-11-02 09:00:01', '2025-11-02 09:00:02'),
    (3, 2, 'Response', 43, 'queued', 0, NULL, '2025-11-02 09:00:01', '2025-11-02 09:00:01'),
    (4, 2, 'Response', 43, 'queued', 0, NULL, '2025-11-02 09:05:01', '2025-11-02 09:05:01');
INSERT INTO export_events (id, export_id, state, uuid, data, created_at, updated_at, percent_complete, message)
    VALUES (1, 2, 'in_progress', 'b2f6a0c1-4d9e-4f3a-8c7b-1a2b3c4d5e6f',
            '{"sidekiq": {"jid": "3c1d9e2f0a4b5c6d7e8f9a0b", "queue": "external_system_ccd"}, "external_data": {}}',
            '2025-11-02 09:00:02', '2025-11-02 09:00:02', 0, 'Response export started');
INSERT INTO commands (id, request_body, request_headers, response_body, response_headers, response_status,
                      created_at, updated_at, root_object_type, root_object_id)
    VALUES ('5f0c3b1e-0d4e-4a8b-9c39-6a1b2c3d4e5f', '{"uuid":"5f0c3b1e-0d4e-4a8b-9c39-6a1b2c3d4e5f"}',
            '{"CONTENT_TYPE": "application/json", "REQUEST_METHOD": "POST"}', '{"status":"accepted"}',
            '{"Content-Type": "application/json"}', 202, '2025-11-02 09:00:00', '2025-11-02 09:00:00',
            'Response', 1);
SELECT setval(pg_get_serial_sequence(t, 'id'), 100) FROM unnest(ARRAY['offices', 'external_systems',
    'external_system_configurations', 'addresses', 'respondents', 'representatives', 'responses', 'exports',
    'export_events']) AS t;
"""


def create_original_database(engine: sa.Engine) -> None:
    """The original's tables (tests/sql/original_schema.sql) holding the Rails side's rows."""
    create_original_tables(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql(_ROWS)
