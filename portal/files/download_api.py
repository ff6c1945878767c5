"""Downloads: a file's content and a folder as a streamed zip. (Being written.)"""

from rest_framework.views import APIView


class ContentView(APIView):
    pass


class ZipView(APIView):
    pass
