"""Follow-up work that survives the broker: a transactional outbox in front of Celery.

``services.enqueue`` writes one row in the caller's transaction; after the commit the
row is published to Celery, and the worker deletes it once its task has run.
A row the broker never took (Redis down) or lost (Redis restarted without
persistence) is published again by the ``outbox.relay`` beat task.
"""
