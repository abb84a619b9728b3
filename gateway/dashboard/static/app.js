// Framegate dashboard: live job progress (server-sent events) and synchronized A/B playback.
(() => {
  "use strict";

  function showClip(el, job) {
    const thumb = el.querySelector("[data-thumb]");
    if (!thumb || job.status !== "completed") return;
    const video = document.createElement("video");
    video.src = `/media/${job.id}`;
    video.poster = `/media/${job.id}?variant=thumbnail`;
    Object.assign(video, { muted: true, loop: true, playsInline: true, preload: "none" });
    if (thumb.tagName === "CODE") video.className = "thumb";
    thumb.replaceWith(video);
  }

  function liveJobs() {
    const rows = document.querySelectorAll("[data-job]");
    if (!rows.length || !window.EventSource) return;
    const source = new EventSource("/events");
    source.addEventListener("job", (event) => {
      const job = JSON.parse(event.data);
      document.querySelectorAll(`[data-job="${job.id}"]`).forEach((el) => {
        const fill = el.querySelector("[data-progress]");
        if (fill) fill.style.width = `${job.progress}%`;
        const status = el.querySelector("[data-status]");
        if (status) status.textContent = job.status;
        const cost = el.querySelector("[data-cost]");
        if (cost && job.cost !== null) {
          const refunded = job.billing && job.billing.refunded;
          cost.textContent = refunded ? `${job.cost} (refunded ${refunded})` : job.cost;
        }
        if (job.status === "completed" || job.status === "failed") {
          el.dataset.done = job.status;
          // A finished job cannot be cancelled.
          el.querySelectorAll("[data-cancel]").forEach((form) => form.remove());
          if (!document.querySelector("[data-job]:not([data-done]) [data-status]")) {
            // Every job on the page has settled: reload for the settled costs, QC and winner buttons.
            setTimeout(() => window.location.reload(), 900);
          } else {
            showClip(el, job);  // others still run: show this clip in place
          }
        }
      });
    });
  }

  function syncTakes() {
    document.querySelectorAll("[data-ab]").forEach((group) => {
      const videos = Array.from(group.querySelectorAll("video"));
      const play = group.querySelector("[data-ab-play]");
      const scrub = group.querySelector("[data-ab-scrub]");
      if (!videos.length) return;
      let playing = false;
      play.addEventListener("click", () => {
        playing = !playing;
        videos.forEach((v) => { if (playing) { v.currentTime = videos[0].currentTime; v.play(); } else v.pause(); });
        play.textContent = playing ? "Pause all" : "Play all";
        group.dataset.playing = playing ? "yes" : "no";
      });
      scrub.addEventListener("input", () => {
        videos.forEach((v) => { if (v.duration) v.currentTime = (scrub.value / 1000) * v.duration; });
      });
      videos[0].addEventListener("timeupdate", () => {
        const v = videos[0];
        if (v.duration) scrub.value = Math.round((v.currentTime / v.duration) * 1000);
        videos.slice(1).forEach((o) => { if (Math.abs(o.currentTime - v.currentTime) > 0.15) o.currentTime = v.currentTime; });
      });
      videos.forEach((v) => v.addEventListener("ended", () => {
        if (playing) videos.forEach((o) => { o.currentTime = 0; o.play(); });
      }));
    });
  }

  document.addEventListener("DOMContentLoaded", () => { liveJobs(); syncTakes(); });
})();
