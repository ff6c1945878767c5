from django.conf import settings

from portal.audit import context


def client_ip(request) -> str | None:
    """The client's address, trusting X-Forwarded-For only as far as
    PORTAL_TRUSTED_PROXY_COUNT proxies deep."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = context.bind(context.RequestContext(
            ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")[:512]))
        try:
            return self.get_response(request)
        finally:
            context.unbind(token)
