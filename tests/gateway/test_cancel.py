"""A cancel the API accepted is honoured, even when it arrives as the job is finishing."""

from __future__ import annotations

from ..support import Gateway, auth


async def test_a_cancel_that_arrives_as_the_job_finishes_is_refunded(gw: Gateway) -> None:
    key = gw.new_key(credits=10)
    assert gw.state.workers is not None
    await gw.state.workers.stop()  # this test plays the worker, to cancel at the last moment
    video = (await gw.create(key, prompt="a red square", model="fake-video")).json()
    store = gw.state.jobs
    job = store.claim("test-worker", ["fake"], 30.0)
    assert job is not None and job.id == video["id"]
    store.set_progress(job.id, "test-worker", 95)  # generated; about to be stored and settled

    cancel = await gw.client.post(f"/v1/videos/{video['id']}/cancel", headers=auth(key))
    assert cancel.status_code == 200 and cancel.json()["status"] == "in_progress"
    result = {"width": 64, "height": 64, "frames": 16, "fps": 16, "has_audio": False, "run_seconds": 1.0}
    assert store.complete(job.id, "test-worker", result=result) is False

    body = (await gw.client.get(f"/v1/videos/{video['id']}", headers=auth(key))).json()
    assert body["status"] == "failed" and body["error"]["code"] == "cancelled"
    assert body["cost"] == 0
    assert gw.balance(key).available_mc == 10_000  # the hold came back; nothing was charged
    content = await gw.client.get(f"/v1/videos/{video['id']}/content", headers=auth(key))
    assert content.status_code in (404, 409)
