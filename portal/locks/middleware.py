from portal.locks import refusals


class LockRefusalMiddleware:
    """Records the writes a lock refused during the request, after the
    request's transactions are over (their rollback would erase the event).
    Services wrapped in ``records_lock_refusals`` record theirs earlier; this
    catches refusals raised anywhere else (share pages, WebDAV)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from portal.locks.services import lock_refusal_record

        token = refusals.collect()
        try:
            return self.get_response(request)
        finally:
            for exc in refusals.release(token):
                lock_refusal_record(exc=exc)
