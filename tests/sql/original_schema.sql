-- The original ET API's tables this service shares, transcribed from
-- ../shared/reference/original-database.md (et-pet-api ed37dfe, Rails schema
-- 2025_10_31_072154): columns in the original's order, its types, defaults, indexes and
-- foreign keys, and Rails' own ledger. Tests build "the original database" from it.
-- One column a line, so that the SQLite test can read it too.

CREATE TABLE schema_migrations (
    version character varying NOT NULL PRIMARY KEY
);

CREATE TABLE ar_internal_metadata (
    key character varying NOT NULL PRIMARY KEY,
    value character varying,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL
);

CREATE TABLE addresses (
    id bigserial PRIMARY KEY,
    building character varying,
    street character varying,
    locality character varying,
    county character varying,
    string character varying,
    post_code character varying,
    country character varying,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

CREATE TABLE commands (
    id uuid DEFAULT gen_random_uuid() NOT NULL PRIMARY KEY,
    request_body text NOT NULL,
    request_headers jsonb NOT NULL,
    response_body text NOT NULL,
    response_headers jsonb,
    response_status integer,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    root_object_type character varying,
    root_object_id bigint
);

CREATE TABLE export_events (
    id bigserial PRIMARY KEY,
    export_id bigint NOT NULL,
    state character varying,
    uuid uuid,
    data jsonb,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL,
    percent_complete integer,
    message character varying
);

CREATE TABLE exports (
    id bigserial PRIMARY KEY,
    resource_id bigint,
    pdf_file_id bigint,
    in_progress boolean,
    messages character varying[] DEFAULT '{}'::character varying[],
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    resource_type character varying,
    external_system_id bigint NOT NULL,
    state character varying DEFAULT 'created'::character varying,
    external_data jsonb DEFAULT '{}'::jsonb NOT NULL,
    percent_complete integer DEFAULT 0 NOT NULL,
    message character varying
);

CREATE TABLE external_system_configurations (
    id bigserial PRIMARY KEY,
    external_system_id bigint NOT NULL,
    key character varying NOT NULL,
    value character varying NOT NULL,
    can_read boolean DEFAULT true NOT NULL,
    can_write boolean DEFAULT true NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

CREATE TABLE external_systems (
    id bigserial PRIMARY KEY,
    name character varying NOT NULL,
    reference character varying NOT NULL,
    office_codes integer[] DEFAULT '{}'::integer[],
    enabled boolean DEFAULT true,
    export_queue character varying,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    export_claims boolean DEFAULT false,
    export_responses boolean DEFAULT false NOT NULL,
    export_feedback_queue character varying DEFAULT 'default'::character varying NOT NULL,
    always_save_export boolean DEFAULT false,
    response_remote_office boolean DEFAULT false NOT NULL
);

CREATE TABLE offices (
    id bigserial PRIMARY KEY,
    code integer,
    name character varying,
    is_default boolean,
    address character varying,
    telephone character varying,
    email character varying,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

CREATE TABLE representatives (
    id bigserial PRIMARY KEY,
    name character varying,
    organisation_name character varying,
    address_id bigint,
    address_telephone_number character varying,
    mobile_number character varying,
    email_address character varying,
    representative_type character varying,
    dx_number character varying,
    reference character varying,
    contact_preference character varying,
    fax_number character varying,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    allow_video_attendance boolean,
    allow_phone_attendance boolean
);

CREATE TABLE respondents (
    id bigserial PRIMARY KEY,
    name character varying,
    address_id bigint,
    work_address_telephone_number character varying,
    address_telephone_number character varying,
    acas_number character varying,
    work_address_id bigint,
    alt_phone_number character varying,
    contact character varying,
    dx_number character varying,
    contact_preference character varying,
    email_address character varying,
    fax_number character varying,
    organisation_employ_gb integer,
    organisation_more_than_one_site boolean,
    employment_at_site_number integer,
    disability character varying,
    disability_information character varying,
    acas_certificate_number character varying,
    acas_exemption_code character varying,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    allow_video_attendance boolean,
    title character varying,
    company_number character varying,
    type_of_employer character varying,
    allow_phone_attendance boolean
);

CREATE TABLE responses (
    id bigserial PRIMARY KEY,
    respondent_id bigint,
    representative_id bigint,
    date_of_receipt timestamp without time zone,
    reference character varying,
    case_number character varying,
    claimants_name character varying,
    agree_with_early_conciliation_details boolean,
    disagree_conciliation_reason character varying,
    agree_with_employment_dates character varying,
    employment_start date,
    employment_end date,
    disagree_employment character varying,
    continued_employment character varying,
    agree_with_claimants_description_of_job_or_title character varying,
    disagree_claimants_job_or_title character varying,
    agree_with_claimants_hours character varying,
    queried_hours numeric(5,2),
    agree_with_earnings_details character varying,
    queried_pay_before_tax numeric(8,2),
    queried_pay_before_tax_period character varying,
    queried_take_home_pay numeric(8,2),
    queried_take_home_pay_period character varying,
    agree_with_claimant_notice character varying,
    disagree_claimant_notice_reason character varying,
    agree_with_claimant_pension_benefits character varying,
    disagree_claimant_pension_benefits_reason character varying,
    defend_claim boolean,
    defend_claim_facts character varying,
    make_employer_contract_claim boolean,
    claim_information character varying,
    email_receipt character varying,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    pdf_template_reference character varying NOT NULL,
    email_template_reference character varying NOT NULL,
    office_id integer
);

CREATE UNIQUE INDEX index_commands_on_id ON commands (id);
CREATE INDEX index_commands_on_root_object_type_and_root_object_id ON commands (root_object_type, root_object_id);
CREATE INDEX index_export_events_on_export_id ON export_events (export_id);
CREATE INDEX index_exports_on_external_system_id ON exports (external_system_id);
CREATE INDEX index_exports_on_resource_id ON exports (resource_id);
CREATE INDEX index_external_system_configurations_on_external_system_id ON external_system_configurations (external_system_id);
CREATE UNIQUE INDEX index_external_systems_on_reference ON external_systems (reference);
CREATE INDEX index_representatives_on_address_id ON representatives (address_id);
CREATE INDEX index_respondents_on_address_id ON respondents (address_id);
CREATE INDEX index_respondents_on_work_address_id ON respondents (work_address_id);
CREATE INDEX index_responses_on_office_id ON responses (office_id);
CREATE INDEX index_responses_on_representative_id ON responses (representative_id);
CREATE INDEX index_responses_on_respondent_id ON responses (respondent_id);
ALTER TABLE exports ADD CONSTRAINT fk_rails_201815efe4 FOREIGN KEY (external_system_id) REFERENCES external_systems(id);
ALTER TABLE representatives ADD CONSTRAINT fk_rails_6e31f27150 FOREIGN KEY (address_id) REFERENCES addresses(id);
ALTER TABLE respondents ADD CONSTRAINT fk_rails_b2834e6387 FOREIGN KEY (address_id) REFERENCES addresses(id);
ALTER TABLE respondents ADD CONSTRAINT fk_rails_d2d3e755fa FOREIGN KEY (work_address_id) REFERENCES addresses(id);
