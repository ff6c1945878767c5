from django.http import HttpResponse
from django.views import View


class WopiFileView(View):
    def dispatch(self, request, *args, **kwargs):
        return HttpResponse(status=501)


class WopiContentsView(WopiFileView):
    pass
