Feature: Export Responses
  An administrator ticks ET3 responses in the admin application, picks an external
  system (one of the CCD regional systems) and clicks "Export". The admin application
  then posts one ExportResponses command; each response it names gets one export
  queued for that system, and the reply says whether the command was accepted.

  # The first three scenarios are the published documentation of this endpoint:
  # titles, ids, request bodies and reply bodies as documented, byte for byte.

  Scenario: Export an existing response
    Given an external system with id 43 that exports responses
    And a response with id 18 exists
    And no command has been sent with uuid "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"
    When the admin client posts to "/api/v2/exports/export_responses":
      """
      {
        "uuid": "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78",
        "command": "ExportResponses",
        "data": {
          "external_system_id": 43,
          "response_ids": [
            18
          ]
        }
      }
      """
    Then the reply status is 202
    And the reply body is exactly:
      """
      {"status":"accepted","meta":{},"uuid":"fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"}
      """
    And the reply has the headers:
      | Content-Type                      | application/json; charset=utf-8 |
      | X-Frame-Options                   | SAMEORIGIN                      |
      | X-XSS-Protection                  | 1; mode=block                   |
      | X-Content-Type-Options            | nosniff                         |
      | X-Download-Options                | noopen                          |
      | X-Permitted-Cross-Domain-Policies | none                            |
      | Referrer-Policy                   | strict-origin-when-cross-origin |
      | Cache-Control                     | no-cache                        |
    And the reply has an X-Request-Id that is a UUID and an X-Runtime in seconds with 6 decimals
    And the request added rows: 1 to exports, 1 to export_events and 1 to commands
    And the command "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78" queued one export to external system 43 for response 18
    And the command "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78" is logged once, with the reply to its first sending

  Scenario: Attempting to export a response to a non existent external system id
    Given there is no external system with id -1
    And a response with id 19 exists
    And no command has been sent with uuid "9f6e3de8-e731-4b7e-9f10-69e9e70e200b"
    When the admin client posts to "/api/v2/exports/export_responses":
      """
      {
        "uuid": "9f6e3de8-e731-4b7e-9f10-69e9e70e200b",
        "command": "ExportResponses",
        "data": {
          "external_system_id": -1,
          "response_ids": [
            19
          ]
        }
      }
      """
    Then the reply status is 400
    And the reply body is exactly:
      """
      {"status":"not_accepted","uuid":"9f6e3de8-e731-4b7e-9f10-69e9e70e200b","errors":[{"status":422,"code":"external_system_not_found","title":"The external system with an id of -1 was not found","detail":"The external system with an id of -1 was not found","source":"/external_system_id","command":"ExportResponses","uuid":"9f6e3de8-e731-4b7e-9f10-69e9e70e200b"}]}
      """
    And the reply has the headers:
      | Content-Type                      | application/json; charset=utf-8 |
      | X-Frame-Options                   | SAMEORIGIN                      |
      | X-XSS-Protection                  | 1; mode=block                   |
      | X-Content-Type-Options            | nosniff                         |
      | X-Download-Options                | noopen                          |
      | X-Permitted-Cross-Domain-Policies | none                            |
      | Referrer-Policy                   | strict-origin-when-cross-origin |
      | Cache-Control                     | no-cache                        |
    And the reply has an X-Request-Id that is a UUID and an X-Runtime in seconds with 6 decimals
    And the request wrote no rows to exports, export_events or commands
    And response 19 has no exports

  Scenario: Attempting to export none existent responses
    Given an external system with id 43 that exports responses
    And a response with id 20 exists
    And there are no responses with ids -1, -2
    And no command has been sent with uuid "bb86cdc9-9900-4cec-82a3-1355649c00d7"
    When the admin client posts to "/api/v2/exports/export_responses":
      """
      {
        "uuid": "bb86cdc9-9900-4cec-82a3-1355649c00d7",
        "command": "ExportResponses",
        "data": {
          "external_system_id": 43,
          "response_ids": [
            20,
            -1,
            -2
          ]
        }
      }
      """
    Then the reply status is 400
    And the reply body is exactly:
      """
      {"status":"not_accepted","uuid":"bb86cdc9-9900-4cec-82a3-1355649c00d7","errors":[{"status":422,"code":"response_not_found","title":"A response with an id of -1 was not found","detail":"A response with an id of -1 was not found","source":"/response_ids","command":"ExportResponses","uuid":"bb86cdc9-9900-4cec-82a3-1355649c00d7"},{"status":422,"code":"response_not_found","title":"A response with an id of -2 was not found","detail":"A response with an id of -2 was not found","source":"/response_ids","command":"ExportResponses","uuid":"bb86cdc9-9900-4cec-82a3-1355649c00d7"}]}
      """
    And the reply has the headers:
      | Content-Type                      | application/json; charset=utf-8 |
      | X-Frame-Options                   | SAMEORIGIN                      |
      | X-XSS-Protection                  | 1; mode=block                   |
      | X-Content-Type-Options            | nosniff                         |
      | X-Download-Options                | noopen                          |
      | X-Permitted-Cross-Domain-Policies | none                            |
      | Referrer-Policy                   | strict-origin-when-cross-origin |
      | Cache-Control                     | no-cache                        |
    And the reply has an X-Request-Id that is a UUID and an X-Runtime in seconds with 6 decimals
    And the request wrote no rows to exports, export_events or commands
    And response 20 has no exports

  # Beyond the documentation: idempotency by uuid, duplicates, pending exports,
  # systems that do not take responses, and malformed requests.

  Scenario: Sending the same command again replays the first reply and queues nothing more
    Given an external system with id 43 that exports responses
    And a response with id 21 exists
    And no command has been sent with uuid "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a51"
    When the admin client posts to "/api/v2/exports/export_responses":
      """
      {
        "uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a51",
        "command": "ExportResponses",
        "async": false,
        "data": {
          "external_system_id": 43,
          "response_ids": [21]
        }
      }
      """
    Then the reply status is 202
    When the admin client sends the same request again
    Then the reply is identical to the first reply: status, body bytes and content type
    And the reply body is exactly:
      """
      {"status":"accepted","meta":{},"uuid":"3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a51"}
      """
    And the two replies have different X-Request-Ids
    And the request wrote no rows to exports, export_events or commands
    And the command "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a51" queued one export to external system 43 for response 21
    And the command "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a51" is logged once, with the reply to its first sending

  Scenario: Reusing a uuid with different data is a conflict and changes nothing
    Given an external system with id 43 that exports responses
    And responses with ids 22, 23 exist
    And no command has been sent with uuid "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a52"
    When the admin client posts to "/api/v2/exports/export_responses":
      """
      {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a52", "command": "ExportResponses", "async": false,
       "data": {"external_system_id": 43, "response_ids": [22]}}
      """
    Then the reply status is 202
    When the admin client posts to "/api/v2/exports/export_responses":
      """
      {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a52", "command": "ExportResponses", "async": false,
       "data": {"external_system_id": 43, "response_ids": [23]}}
      """
    Then the reply status is 409
    And the reply body is exactly:
      """
      {"status":"not_accepted","uuid":"3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a52","errors":[{"status":409,"code":"uuid_conflict","title":"The uuid 3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a52 was already used by a command with different data","detail":"The uuid 3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a52 was already used by a command with different data","source":"/uuid","command":"ExportResponses","uuid":"3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a52"}]}
      """
    And the first error has code "uuid_conflict" and source "/uuid"
    And the reply carries the JSON content type, the security headers, an X-Request-Id and an X-Runtime
    And the request wrote no rows to exports, export_events or commands
    And response 23 has no exports
    And the command "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a52" queued one export to external system 43 for response 22
    And the command "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a52" is logged once, with the reply to its first sending

  Scenario: Duplicate ids in one command give one export per response
    Given an external system with id 43 that exports responses
    And responses with ids 24, 25 exist
    And no command has been sent with uuid "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a53"
    When the admin client posts to "/api/v2/exports/export_responses":
      """
      {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a53", "command": "ExportResponses", "async": false,
       "data": {"external_system_id": 43, "response_ids": [24, 25, 24, 24]}}
      """
    Then the reply status is 202
    And the reply body is exactly:
      """
      {"status":"accepted","meta":{},"uuid":"3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a53"}
      """
    And the request added rows: 2 to exports, 2 to export_events and 1 to commands
    And the command "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a53" queued one export to external system 43 for each of responses 24, 25

  Scenario: A response already waiting for export to the system gets no second export
    Given an external system with id 43 that exports responses
    And responses with ids 26, 27 exist
    And response 27 already has a queued export to external system 43
    And no command has been sent with uuid "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a54"
    When the admin client posts to "/api/v2/exports/export_responses":
      """
      {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a54", "command": "ExportResponses", "async": false,
       "data": {"external_system_id": 43, "response_ids": [26, 27]}}
      """
    Then the reply status is 202
    And the reply body is exactly:
      """
      {"status":"accepted","meta":{},"uuid":"3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a54"}
      """
    And the request added rows: 1 to exports, 1 to export_events and 1 to commands
    And the command "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a54" queued one export to external system 43 for response 26
    And response 27 has exactly one pending export to external system 43

  Scenario Outline: An external system that does not export responses refuses the command
    Given an external system with id 44 with enabled <enabled> and export_responses <export_responses>
    And a response with id 28 exists
    And no command has been sent with uuid "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a55"
    When the admin client posts to "/api/v2/exports/export_responses":
      """
      {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a55", "command": "ExportResponses",
       "data": {"external_system_id": 44, "response_ids": [28]}}
      """
    Then the reply status is 400
    And the reply body is exactly:
      """
      {"status":"not_accepted","uuid":"3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a55","errors":[{"status":422,"code":"external_system_not_exporting_responses","title":"The external system with an id of 44 is not enabled for exporting responses","detail":"The external system with an id of 44 is not enabled for exporting responses","source":"/external_system_id","command":"ExportResponses","uuid":"3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a55"}]}
      """
    And the first error has code "external_system_not_exporting_responses" and source "/external_system_id"
    And the request wrote no rows to exports, export_events or commands
    And response 28 has no exports
    And the command "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a55" is not logged

    Examples:
      | enabled | export_responses |
      | false   | true             |
      | true    | false            |

  Scenario Outline: A malformed request is refused with the error envelope and writes nothing
    Given an external system with id 43 that exports responses
    And a response with id 18 exists
    And no command has been sent with uuid "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a56"
    When the admin client sends <method> "<path>" with Content-Type "<content_type>":
      """
      <body>
      """
    Then the reply status is <status>
    And the reply is a "not_accepted" envelope whose errors each have exactly the keys status, code, title, detail, source, command, uuid
    And the first error has code "<code>" and source "<source>"
    And the reply carries the JSON content type, the security headers, an X-Request-Id and an X-Runtime
    And the request wrote no rows to exports, export_events or commands
    And response 18 has no exports

    # A body of `{{"x" * N}}` stands for N times "x": too long to write out.
    Examples:
      | case                        | method | path                             | content_type     | body                                                                                                                                                                     | status | code                   | source              |
      | invalid JSON                | POST   | /api/v2/exports/export_responses | application/json | {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a56", "command":                                                                                                              | 400    | invalid_json           | /                   |
      | a JSON array                | POST   | /api/v2/exports/export_responses | application/json | [{"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a56", "command": "ExportResponses", "data": {"external_system_id": 43, "response_ids": [18]}}]                               | 400    | invalid_body           | /                   |
      | missing uuid                | POST   | /api/v2/exports/export_responses | application/json | {"command": "ExportResponses", "data": {"external_system_id": 43, "response_ids": [18]}}                                                                                 | 400    | missing_field          | /uuid               |
      | malformed uuid              | POST   | /api/v2/exports/export_responses | application/json | {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b", "command": "ExportResponses", "data": {"external_system_id": 43, "response_ids": [18]}}                                              | 400    | invalid_uuid           | /uuid               |
      | missing data                | POST   | /api/v2/exports/export_responses | application/json | {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a56", "command": "ExportResponses"}                                                                                           | 400    | missing_field          | /data               |
      | data not an object          | POST   | /api/v2/exports/export_responses | application/json | {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a56", "command": "ExportResponses", "data": [43, 18]}                                                                         | 400    | invalid_type           | /data               |
      | response_ids missing        | POST   | /api/v2/exports/export_responses | application/json | {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a56", "command": "ExportResponses", "data": {"external_system_id": 43}}                                                       | 400    | missing_field          | /response_ids       |
      | response_ids null           | POST   | /api/v2/exports/export_responses | application/json | {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a56", "command": "ExportResponses", "data": {"external_system_id": 43, "response_ids": null}}                                 | 400    | invalid_type           | /response_ids       |
      | response_ids a string       | POST   | /api/v2/exports/export_responses | application/json | {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a56", "command": "ExportResponses", "data": {"external_system_id": 43, "response_ids": "18"}}                                 | 400    | invalid_type           | /response_ids       |
      | response_ids empty          | POST   | /api/v2/exports/export_responses | application/json | {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a56", "command": "ExportResponses", "data": {"external_system_id": 43, "response_ids": []}}                                   | 400    | empty_list             | /response_ids       |
      | an id that is a string      | POST   | /api/v2/exports/export_responses | application/json | {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a56", "command": "ExportResponses", "data": {"external_system_id": 43, "response_ids": [18, "19"]}}                           | 400    | invalid_type           | /response_ids/1     |
      | an id that is a float       | POST   | /api/v2/exports/export_responses | application/json | {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a56", "command": "ExportResponses", "data": {"external_system_id": 43, "response_ids": [18.0]}}                               | 400    | invalid_type           | /response_ids/0     |
      | an id that is a boolean     | POST   | /api/v2/exports/export_responses | application/json | {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a56", "command": "ExportResponses", "data": {"external_system_id": 43, "response_ids": [true]}}                               | 400    | invalid_type           | /response_ids/0     |
      | an id of 2^63               | POST   | /api/v2/exports/export_responses | application/json | {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a56", "command": "ExportResponses", "data": {"external_system_id": 43, "response_ids": [18, 9223372036854775808]}}            | 400    | integer_out_of_range   | /response_ids/1     |
      | an id beyond 64 bits        | POST   | /api/v2/exports/export_responses | application/json | {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a56", "command": "ExportResponses", "data": {"external_system_id": 43, "response_ids": [18446744073709551616]}}               | 400    | integer_out_of_range   | /response_ids/0     |
      | external_system_id a string | POST   | /api/v2/exports/export_responses | application/json | {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a56", "command": "ExportResponses", "data": {"external_system_id": "43", "response_ids": [18]}}                               | 400    | invalid_type           | /external_system_id |
      | unknown command name        | POST   | /api/v2/exports/export_responses | application/json | {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a56", "command": "ExportClaims", "data": {"external_system_id": 43, "response_ids": [18]}}                                    | 400    | unknown_command        | /command            |
      | wrong Content-Type          | POST   | /api/v2/exports/export_responses | text/plain       | {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a56", "command": "ExportResponses", "data": {"external_system_id": 43, "response_ids": [18]}}                                 | 415    | unsupported_media_type | /                   |
      | a body over 1 MiB           | POST   | /api/v2/exports/export_responses | application/json | {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a56", "command": "ExportResponses", "data": {"external_system_id": 43, "response_ids": [18]}, "padding": "{{"x" * 1048576}}"} | 413    | payload_too_large      | /                   |
      | unknown route               | POST   | /api/v2/exports/export_claims    | application/json | {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a56", "command": "ExportResponses", "data": {"external_system_id": 43, "response_ids": [18]}}                                 | 404    | not_found              | /                   |
      | wrong method                | GET    | /api/v2/exports/export_responses | application/json |                                                                                                                                                                          | 405    | method_not_allowed     | /                   |
      | wrong method with a body    | PUT    | /api/v2/exports/export_responses | application/json | {"uuid": "3c6e0b8a-1f2d-4e5f-8a9b-0c1d2e3f4a56", "command": "ExportResponses", "data": {"external_system_id": 43, "response_ids": [18]}}                                 | 405    | method_not_allowed     | /                   |

  Scenario Outline: A client without a known bearer token is refused and nothing is written
    Given an external system with id 43 that exports responses
    And a response with id 18 exists
    And <credentials>
    When the admin client posts to "/api/v2/exports/export_responses":
      """
      {"uuid": "0b0e3d0e-8f43-4c4c-9a53-2f5d1c1e7a01", "command": "ExportResponses", "data": {"external_system_id": 43, "response_ids": [18]}}
      """
    Then the reply status is 401
    And the reply has the headers:
      | WWW-Authenticate | <challenge> |
    And the reply is a "not_accepted" envelope whose errors each have exactly the keys status, code, title, detail, source, command, uuid
    And the first error has code "<code>" and source "/"
    And the request wrote no rows to exports, export_events or commands

    Examples:
      | credentials                                                      | code                | challenge                                               |
      | the admin client sends no credentials                            | missing_credentials | Bearer realm="export-responses"                         |
      | the admin client sends the Authorization header "Bearer guessed" | invalid_credentials | Bearer realm="export-responses", error="invalid_token"  |
      | the admin client sends the Authorization header "Basic YWRtaW4=" | invalid_credentials | Bearer realm="export-responses", error="invalid_token"  |
