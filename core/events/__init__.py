"""The transactional event outbox: events are rows written with the change they describe,
then delivered to each plugin that is on (see ``core.events.services``)."""
