Feature: Export pipeline
  An accepted ExportResponses command queues one export per response. The export
  worker then carries each export out against CCD: it looks up the latest case whose
  ethosCaseReference is the response's case number, in the case type the external
  system is configured with, and reports its progress. The status API shows where each
  export stands: its state, percent, message and external data, and one event per report.

  Here the whole way is run: the command goes through the HTTP API, the worker runs in
  the test process against a fake CCD over real HTTP (read timeout 1.5 s, two retries
  0.1 s apart), and the outcome is read back through the status API.

  Background:
    Given an external system with id 4501 that exports responses to the CCD case type "ET_EnglandWales"

  Scenario: A response whose case is in CCD is exported
    Given these responses exist:
      | response_id | case_number  |
      | 4511        | 2400011/2024 |
    # Cases are listed oldest first: the newest case of the number is the response's.
    And CCD holds the cases:
      | case_id          | case_type_id    | case_number  | managing_office |
      | 1700000000004510 | ET_EnglandWales | 2400011/2024 | Leeds           |
      | 1700000000004511 | ET_EnglandWales | 2400011/2024 | Manchester      |
      | 1700000000004519 | ET_EnglandWales | 2400019/2024 | Watford         |
    When the admin client exports response 4511 to external system 4501
    Then the command is accepted
    When the worker runs until every export of the command is final
    Then the export of response 4511 reads:
      | state            | complete          |
      | percent_complete | 100               |
      | message          | Response exported |
      | attempts         | 1                 |
    And the external_data of the export of response 4511 is:
      """
      {"case_id": 1700000000004511, "case_reference": "2400011/2024", "case_type_id": "ET_EnglandWales", "office": "Manchester"}
      """
    And the events of the export of response 4511 are:
      | state       | percent_complete | message                 | error |
      | queued      | 0                | Queued for export       |       |
      | in_progress | 0                | Response export started |       |
      | complete    | 100              | Response exported       |       |
    And response 4511 belongs to no office

  Scenario: A response whose case is not in CCD is still exported, with no case
    Given these responses exist:
      | response_id | case_number  |
      | 4521        | 2400021/2024 |
    And CCD holds the cases:
      | case_id          | case_type_id    | case_number  | managing_office |
      | 1700000000004529 | ET_EnglandWales | 2400029/2024 | Manchester      |
      | 1700000000004528 | ET_Scotland     | 2400021/2024 | Glasgow         |
    When the admin client exports response 4521 to external system 4501
    Then the command is accepted
    When the worker runs until every export of the command is final
    Then the export of response 4521 reads:
      | state            | complete                                    |
      | percent_complete | 100                                         |
      | message          | Response exported; no case was found in CCD |
      | attempts         | 1                                           |
    And the external_data of the export of response 4521 is:
      """
      {"case_id": null, "case_reference": "2400021/2024", "case_type_id": "ET_EnglandWales", "office": null}
      """
    And the events of the export of response 4521 are:
      | state       | percent_complete | message                                     | error |
      | queued      | 0                | Queued for export                           |       |
      | in_progress | 0                | Response export started                     |       |
      | complete    | 100              | Response exported; no case was found in CCD |       |

  # external_data takes each report's keys in turn, as in the original: after a retry
  # the complete export still carries the error of the attempt that failed.
  Scenario Outline: CCD fails once with <status>; after the retry delay the export completes
    Given these responses exist:
      | response_id | case_number  |
      | 4531        | 2400031/2024 |
    And CCD holds the cases:
      | case_id          | case_type_id    | case_number  | managing_office |
      | 1700000000004531 | ET_EnglandWales | 2400031/2024 | Leeds           |
    And CCD answers the next <stage> request with <status>
    When the admin client exports response 4531 to external system 4501
    Then the command is accepted
    When the worker runs until every export of the command is final
    Then the export of response 4531 reads:
      | state            | complete          |
      | percent_complete | 100               |
      | message          | Response exported |
      | attempts         | 2                 |
    And the external_data of the export of response 4531 is:
      """
      {"case_id": 1700000000004531, "case_reference": "2400031/2024", "case_type_id": "ET_EnglandWales", "office": "Leeds", "error": {"message": "<error>"}}
      """
    And the events of the export of response 4531 are:
      | state       | percent_complete | message                 | error   |
      | queued      | 0                | Queued for export       |         |
      | in_progress | 0                | Response export started |         |
      | erroring    | null             | Response erroring       | <error> |
      | in_progress | 0                | Response export started |         |
      | complete    | 100              | Response exported       |         |
    And the export of response 4531 was tried again no sooner than 0.1 s after its first attempt failed

    Examples:
      | stage      | status | error                                            |
      | data store | 502    | CCD data store answered 502 to the case search   |
      | data store | 504    | CCD data store answered 504 to the case search   |
      | login      | 503    | CCD auth answered 503 to the service token lease |

  Scenario: CCD answers slower than the read timeout once; the retry completes the export
    Given these responses exist:
      | response_id | case_number  |
      | 4541        | 2400041/2024 |
    And CCD holds the cases:
      | case_id          | case_type_id    | case_number  | managing_office |
      | 1700000000004541 | ET_EnglandWales | 2400041/2024 | Watford         |
    And CCD takes 2.5 s to answer the next data store request
    When the admin client exports response 4541 to external system 4501
    Then the command is accepted
    When the worker runs until every export of the command is final
    Then the export of response 4541 reads:
      | state            | complete          |
      | percent_complete | 100               |
      | message          | Response exported |
      | attempts         | 2                 |
    And the events of the export of response 4541 are:
      | state       | percent_complete | message                 | error                                                     |
      | queued      | 0                | Queued for export       |                                                           |
      | in_progress | 0                | Response export started |                                                           |
      | erroring    | null             | Response erroring       | CCD did not answer within 1.5 s (data store, case search) |
      | in_progress | 0                | Response export started |                                                           |
      | complete    | 100              | Response exported       |                                                           |
    And the external_data of the export of response 4541 names the case 1700000000004541 in the office "Watford"

  Scenario: Expired tokens: the worker logs in again and exports in the same attempt
    Given these responses exist:
      | response_id | case_number  |
      | 4551        | 2400051/2024 |
    And CCD holds the cases:
      | case_id          | case_type_id    | case_number  | managing_office |
      | 1700000000004551 | ET_EnglandWales | 2400051/2024 | Manchester      |
    And the worker logged in to CCD earlier
    And CCD has since expired every token it issued
    When the admin client exports response 4551 to external system 4501
    Then the command is accepted
    When the worker runs until every export of the command is final
    Then the export of response 4551 reads:
      | state            | complete          |
      | percent_complete | 100               |
      | message          | Response exported |
      | attempts         | 1                 |
    And the events of the export of response 4551 are:
      | state       | percent_complete | message                 | error |
      | queued      | 0                | Queued for export       |       |
      | in_progress | 0                | Response export started |       |
      | complete    | 100              | Response exported       |       |
    And the external_data of the export of response 4551 names the case 1700000000004551 in the office "Manchester"
    And CCD saw 2 logins and 3 case searches, the last with fresh tokens

  # Its retries are spent while CCD's outage begins, before the circuit has counted
  # enough failures to open: the export is tried once more rather than failed, then
  # held by the circuit without being charged, and exported once CCD answers.
  Scenario: CCD refuses connections through every retry: the export waits for CCD and is exported once it answers
    Given the worker opens a system's circuit after 5 transient failures in a row, probing 0.2 s later and then twice as long each time up to 0.4 s
    And these responses exist:
      | response_id | case_number  |
      | 4561        | 2400061/2024 |
    And CCD holds the cases:
      | case_id          | case_type_id    | case_number  | managing_office |
      | 1700000000004561 | ET_EnglandWales | 2400061/2024 | Manchester      |
    And CCD refuses every connection
    When the admin client exports response 4561 to external system 4501
    Then the command is accepted
    When the worker runs for 2 s
    Then the circuit of external system 4501 is open after "could not connect to CCD auth (service token lease)"
    And no export of the command is final
    When CCD accepts connections again
    And the worker runs until every export of the command is final
    Then the export of response 4561 reads:
      | state            | complete          |
      | percent_complete | 100               |
      | message          | Response exported |
      | attempts         | 4                 |
    And the external_data of the export of response 4561 names the case 1700000000004561 in the office "Manchester"

  # CCD answers the system's other exports between its attempts, so its failures are
  # its own, not an outage's: after its schedule and the one attempt more, it fails.
  Scenario: CCD fails every search for one case while it answers the others: that export fails after its retries and one attempt more
    Given the worker retries a failed export twice, 0.5 s apart
    And the worker opens a system's circuit after 5 transient failures in a row, probing 0.5 s later and then twice as long each time up to 1.0 s
    And these responses exist:
      | response_id | case_number  |
      | 4562        | 2400062/2024 |
      | 4563        | 2400063/2024 |
    And CCD answers every search for the case "2400062/2024" with 500
    When the admin client exports response 4562 to external system 4501
    Then the command is accepted
    When the export of response 4562 is attempted 4 times, an export of response 4563 to external system 4501 answered before each
    Then the export of response 4562 reads:
      | state            | failed                    |
      | percent_complete | 0                         |
      | message          | Response failed to export |
      | attempts         | 4                         |
    And the external_data of the export of response 4562 is:
      """
      {"error": {"message": "CCD data store answered 500 to the case search"}}
      """
    And the events of the export of response 4562 are:
      | state       | percent_complete | message                   | error                                          |
      | queued      | 0                | Queued for export         |                                                |
      | in_progress | 0                | Response export started   |                                                |
      | erroring    | null             | Response erroring         | CCD data store answered 500 to the case search |
      | in_progress | 0                | Response export started   |                                                |
      | erroring    | null             | Response erroring         | CCD data store answered 500 to the case search |
      | in_progress | 0                | Response export started   |                                                |
      | erroring    | null             | Response erroring         | CCD data store answered 500 to the case search |
      | in_progress | 0                | Response export started   |                                                |
      | erroring    | null             | Response erroring         | CCD data store answered 500 to the case search |
      | failed      | 0                | Response failed to export |                                                |

  # managingOffice names the office, in any letter case; an unknown name, or no case,
  # falls back to the office the case number starts with (80 is managed in Glasgow, 41).
  Scenario: A system with remote offices assigns each response to the office of its case
    Given an external system with id 4508 that exports responses to the CCD case type "ET_EnglandWales" and assigns responses to remote offices
    And these responses exist:
      | response_id | case_number  |
      | 4581        | 2500081/2024 |
      | 4582        | 2500082/2024 |
      | 4583        | 2500083/2024 |
      | 4584        | 2500084/2024 |
      | 4585        | 8000085/2024 |
    And CCD holds the cases:
      | case_id          | case_type_id    | case_number  | managing_office |
      | 1700000000004581 | ET_EnglandWales | 2500081/2024 | Leeds           |
      | 1700000000004582 | ET_EnglandWales | 2500082/2024 | london central  |
      | 1700000000004583 | ET_EnglandWales | 2500083/2024 | Atlantis        |
    When the admin client exports responses 4581, 4582, 4583, 4584, 4585 to external system 4508
    Then the command is accepted
    When the worker runs until every export of the command is final
    Then the exports of the command read:
      | response_id | state    | percent_complete | case_id          | office         |
      | 4581        | complete | 100              | 1700000000004581 | Leeds          |
      | 4582        | complete | 100              | 1700000000004582 | london central |
      | 4583        | complete | 100              | 1700000000004583 | Atlantis       |
      | 4584        | complete | 100              | null             | null           |
      | 4585        | complete | 100              | null             | null           |
    And the responses belong to the offices:
      | response_id | office_code | office_name    |
      | 4581        | 18          | Leeds          |
      | 4582        | 22          | London Central |
      | 4583        | 25          | Newcastle      |
      | 4584        | 25          | Newcastle      |
      | 4585        | 41          | Glasgow        |

  # A case in another case type is not the response's case: only ET_EnglandWales is searched.
  Scenario Outline: One command exports several responses, each case found in CCD or not
    Given these responses exist:
      | response_id | case_number  |
      | 4591        | 1800091/2024 |
      | 4592        | 1800092/2024 |
      | 4593        | 1800093/2024 |
      | 4594        | 1800094/2024 |
    And CCD holds the cases:
      | case_id          | case_type_id | case_number  | managing_office |
      | 1700000000004591 | <type_4591>  | 1800091/2024 | Leeds           |
      | 1700000000004592 | <type_4592>  | 1800092/2024 | Leeds           |
      | 1700000000004593 | <type_4593>  | 1800093/2024 | Leeds           |
    When the admin client exports responses 4591, 4592, 4593, 4594 to external system 4501
    Then the command is accepted
    When the worker runs until every export of the command is final
    Then the exports of the command read:
      | response_id | state    | percent_complete | case_id     | office        |
      | 4591        | complete | 100              | <case_4591> | <office_4591> |
      | 4592        | complete | 100              | <case_4592> | <office_4592> |
      | 4593        | complete | 100              | <case_4593> | <office_4593> |
      | 4594        | complete | 100              | null        | null          |
    And each export with a case says "Response exported", each without one says "Response exported; no case was found in CCD"
    And the events of every export of the command are queued, in_progress, complete

    Examples:
      | type_4591       | type_4592       | type_4593       | case_4591        | case_4592        | case_4593        | office_4591 | office_4592 | office_4593 |
      | ET_EnglandWales | ET_EnglandWales | ET_EnglandWales | 1700000000004591 | 1700000000004592 | 1700000000004593 | Leeds       | Leeds       | Leeds       |
      | ET_Scotland     | ET_EnglandWales | ET_Scotland     | null             | 1700000000004592 | null             | null        | Leeds       | null        |
      | ET_Scotland     | ET_Scotland     | ET_Scotland     | null             | null             | null             | null        | null        | null        |

  # Without the breaker each export would spend its three attempts (0.5 s apart) within
  # the outage and end failed. With it, after 3 transient failures in a row the worker
  # stops attempting the system's exports, without charging them an attempt, and probes
  # CCD with one export at a time: 0.2 s after, then twice as long each time.
  Scenario: A CCD outage longer than every retry is ridden out by the circuit breaker
    Given the worker retries a failed export twice, 0.5 s apart
    And the worker opens a system's circuit after 3 transient failures in a row, probing 0.2 s later and then twice as long each time up to 0.8 s
    And these responses exist:
      | response_id | case_number  |
      | 4601        | 2400101/2024 |
      | 4602        | 2400102/2024 |
      | 4603        | 2400103/2024 |
      | 4604        | 2400104/2024 |
    And CCD holds the cases:
      | case_id          | case_type_id    | case_number  | managing_office |
      | 1700000000004601 | ET_EnglandWales | 2400101/2024 | Leeds           |
      | 1700000000004602 | ET_EnglandWales | 2400102/2024 | Leeds           |
      | 1700000000004603 | ET_EnglandWales | 2400103/2024 | Leeds           |
      | 1700000000004604 | ET_EnglandWales | 2400104/2024 | Leeds           |
    And CCD refuses every connection
    When the admin client exports responses 4601, 4602, 4603, 4604 to external system 4501
    Then the command is accepted
    When the worker runs for 2 s
    Then the circuit of external system 4501 is open after "could not connect to CCD auth (service token lease)"
    And no export of the command is final
    When CCD accepts connections again
    And the worker runs until every export of the command is final
    Then the exports of the command read:
      | response_id | state    | percent_complete | case_id          | office |
      | 4601        | complete | 100              | 1700000000004601 | Leeds  |
      | 4602        | complete | 100              | 1700000000004602 | Leeds  |
      | 4603        | complete | 100              | 1700000000004603 | Leeds  |
      | 4604        | complete | 100              | 1700000000004604 | Leeds  |
    And no export of the command was charged more than 2 attempts
    And the circuit of external system 4501 is closed
    And the worker logged the circuit of external system 4501 opening, probing at growing intervals, and closing

  # CCD's gateway refuses calls beyond the rate it allows with 429 and Retry-After. The
  # worker pauses the system for that long and then paces its calls; a refused attempt
  # is not charged, so no export fails for it even with no retry left at all.
  Scenario: CCD refuses calls beyond its rate with 429: the exports wait, uncharged, and all complete
    Given the worker never retries a failed export
    And these responses exist:
      | response_id | case_number  |
      | 4701        | 2400201/2024 |
      | 4702        | 2400202/2024 |
      | 4703        | 2400203/2024 |
      | 4704        | 2400204/2024 |
      | 4705        | 2400205/2024 |
      | 4706        | 2400206/2024 |
    And CCD holds the cases:
      | case_id          | case_type_id    | case_number  | managing_office |
      | 1700000000004701 | ET_EnglandWales | 2400201/2024 | Leeds           |
      | 1700000000004702 | ET_EnglandWales | 2400202/2024 | Leeds           |
      | 1700000000004703 | ET_EnglandWales | 2400203/2024 | Leeds           |
      | 1700000000004704 | ET_EnglandWales | 2400204/2024 | Leeds           |
      | 1700000000004705 | ET_EnglandWales | 2400205/2024 | Leeds           |
      | 1700000000004706 | ET_EnglandWales | 2400206/2024 | Leeds           |
    And CCD allows 4 calls a second and answers 429 beyond that
    When the admin client exports responses 4701, 4702, 4703, 4704, 4705, 4706 to external system 4501
    Then the command is accepted
    When the worker runs until every export of the command is final
    Then the exports of the command read:
      | response_id | state    | percent_complete | case_id          | office |
      | 4701        | complete | 100              | 1700000000004701 | Leeds  |
      | 4702        | complete | 100              | 1700000000004702 | Leeds  |
      | 4703        | complete | 100              | 1700000000004703 | Leeds  |
      | 4704        | complete | 100              | 1700000000004704 | Leeds  |
      | 4705        | complete | 100              | 1700000000004705 | Leeds  |
      | 4706        | complete | 100              | 1700000000004706 | Leeds  |
    And no export of the command was charged more than 1 attempts
    And CCD refused calls with 429 and external system 4501 is throttled
