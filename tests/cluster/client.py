"""What a REST client does through the cluster's balancer: spaces, the upload flow, downloads."""

from __future__ import annotations

import requests

from tests.cluster.conftest import Cluster


def new_space(api: requests.Session, cluster: Cluster, name: str) -> int:
    space = api.post(f"{cluster.lb}/api/v1/spaces/", json={"name": name}, timeout=30)
    assert space.status_code == 201, space.text
    return space.json()["id"]


def upload(api: requests.Session, cluster: Cluster, space_id: int, path: str, data: bytes) -> int:
    """Start at the portal, PUT the parts to the S3 gateway's presigned URLs, complete."""
    started = api.post(f"{cluster.lb}/api/v1/uploads", json={"space": space_id, "path": path, "size": len(data)},
                       timeout=30)
    assert started.status_code == 201, started.text
    session = started.json()
    gateway = f"http://{cluster.address('s3-gw')}:8333/"
    for part in session["parts"]:
        assert part["url"].startswith(gateway), part["url"]  # straight to the store, not through the portal
        offset = (part["number"] - 1) * session["part_size"]
        answer = requests.put(part["url"], data=data[offset:offset + session["part_size"]], timeout=30)
        assert answer.status_code == 200, answer.text
    done = api.post(f"{cluster.lb}/api/v1/uploads/{session['id']}/complete", timeout=30)
    assert done.status_code == 201, done.text
    return done.json()["id"]


def download(api: requests.Session, cluster: Cluster, node_id: int) -> bytes:
    answer = api.get(f"{cluster.lb}/api/v1/files/{node_id}/content", timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    return answer.content
