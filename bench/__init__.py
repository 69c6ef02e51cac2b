"""DeepGuard's benchmark: the model card's usage code against the project's own path.

Run from the repository root (it takes a few minutes at full size; `--quick` takes seconds):

    .venv/bin/python -m bench.bench_core --images 16
    .venv/bin/python -m bench.bench_core --quick

It builds a random SigLIP image classifier of the full base size (speed does not depend on the
weights) and a set of synthetic 12 MP JPEG photos plus a few 1 MP PNGs, keeps both in
`--workdir` for the next run, then measures every phase in its own child process on the same
files, so each phase's peak RSS is its own and no phase warms a cache for another:

- `card`: the model card's usage code in a loop (processor, model, softmax, one image at a time);
- `detector-c1` / `detector-c16`: `core.Detector` judging the files' bytes, 1 and 16 at a time;
- `check`: `deepguard check --json` on the same files, end to end (when the CLI is there).

It prints a Markdown table, the machine, the ratio of each path to the card, and the largest
probability difference between them; `docs/benchmarks.md` holds the recorded figures and their
reading. `--breakdown` adds a per-stage timing (decode, preprocessing, model, and the model while
another thread decodes) that shows where the time goes. Raw results go to `--workdir` as JSON.

The machine may be shared: each phase records the CPU share other processes took while it ran,
and the report warns when that is above 10 %. Options: `--images N` (photos), `--threads T`
(torch intra-op threads for every phase; default: each path's own default), `--no-check`.
Thread-related variables (`OMP_WAIT_POLICY`, `OMP_NUM_THREADS`, ...) pass through to the phases;
`DEEPGUARD_*` variables do not, so every phase measures the default settings.

`bench_backends` (`python -m bench.bench_backends`) compares every inference backend (torch,
torch-int8, onnx, onnx-int8) and decode mode (exact, fast JPEG draft) with the card's loop at 1
and 16 requests in flight, plus thread variants and the near-duplicate hash's match rates; its
child is `backend_phase`, its tables and plot `backend_report`, the hash measurement `near_dup`.

`bench_video` (`python -m bench.bench_video`) measures clips: 30 s 1080p H.264 MP4s through the
Detector at 1 and 4 clips in flight against the card's loop on the same sampled frames saved as
PNG, and a 2000-frame 1024x1024 GIF against a photo; its child is `video_phase`, its inputs
`video_assets`.

Modules: `assets` makes the model and the images, `phases` (and `breakdown`) run one
measurement in a child process with the tools in `measure`, `child` starts it and measures it
from outside, `report` and `machine` format the results, `bench_core` is the command line.
"""
