"""What a results directory's runs hold, for comparing two workflow runs bit for bit."""
import hashlib
from pathlib import Path


def run_file_hashes(results: Path, study: str) -> dict[str, str]:
    """sha256 of the files a run's numbers live in (weights, per-example outputs, per-epoch curves),
    by path relative to the study's runs directory."""
    runs = results / "runs" / study
    return {str(f.relative_to(runs)): hashlib.sha256(f.read_bytes()).hexdigest()
            for name in ("model.pt", "per_example.npz", "metrics.csv") for f in runs.glob(f"*/*/{name}")}
