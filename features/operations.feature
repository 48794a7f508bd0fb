Feature: Operating the export queue
  An operator can retry an export that failed or is erroring, cancel one that has not
  finished, and pause the exports to an external system while its CCD is under
  maintenance, over the API (or the CLI, which calls the same use cases). Each action
  is recorded as an event of the export that says who did it. The ET API's own exports
  are shown, but no action changes them.

  Background:
    Given external system 4601 exports responses to the CCD case type "ET_EnglandWales"
    And response 4611 has the case number "2400011/2024", which CCD holds

  Scenario: A failed export, retried by an operator, is exported
    Given response 4611 has a failed export to external system 4601 after 3 attempts
    When the operator retries the export of response 4611
    Then the reply is 200 with the export "queued", due now, with 0 attempts
    When the worker runs until the export of response 4611 is final
    Then the export of response 4611 is "complete" after 1 attempt
    And the events of the export of response 4611 end with:
      | state       | message                     | by           |
      | queued      | Queued again by an operator | the operator |
      | in_progress | Response export started     |              |
      | complete    | Response exported           |              |

  Scenario: Of two retries of one export, the second is refused
    Given response 4611 has a failed export to external system 4601 after 3 attempts
    When the operator retries the export of response 4611
    And the operator retries the export of response 4611
    Then the reply is 409 "export_not_retryable" saying "only a failed or erroring export can be retried"
    And the export of response 4611 has one event by the operator

  Scenario: A queued export, cancelled, fails at once and is never attempted
    Given response 4611 has a queued export to external system 4601
    When the operator cancels the export of response 4611
    Then the reply is 200 with the export "failed" and the message "Cancelled by an operator"
    When the worker runs until the export of response 4611 is final
    Then the export of response 4611 is "failed" after 0 attempts
    When the operator cancels the export of response 4611
    Then the reply is 409 "export_not_cancellable" saying "only a queued, erroring or in_progress export can be cancelled"

  Scenario: An export in progress, cancelled, is marked for the end of its attempt
    Given response 4611 has an export to external system 4601 in progress
    When the operator cancels the export of response 4611
    Then the reply is 202 with the export "in_progress", cancelled when its attempt ends by the operator

  Scenario Outline: An export of the ET API is shown, but left alone
    Given response 4611 has a failed export to external system 4601 queued by the ET API
    When the operator <action> the export of response 4611
    Then the reply is 409 "export_owned_by_et_api" saying "belongs to the ET API"
    And the export of response 4611 is still "failed" with no event

    Examples:
      | action  |
      | retries |
      | cancels |

  Scenario: A paused system's exports are still accepted and queued; resuming makes them due
    When the operator pauses external system 4601
    Then the systems list shows external system 4601 paused by the operator
    When the admin client exports response 4611 to external system 4601
    Then the command is accepted and the export of response 4611 is "queued"
    When the operator resumes external system 4601
    Then the systems list shows external system 4601 running, with 1 export queued
    When the worker runs until the export of response 4611 is final
    Then the export of response 4611 is "complete" after 1 attempt
