"""Reference fixture for psalm's sampling distribution (include/psalm/models/phi/generate.hpp,
`sampling_distribution`), from Hugging Face transformers' logits warpers applied in the order
GenerationMixin._get_logits_processor builds them: TemperatureLogitsWarper, TopKLogitsWarper,
TopPLogitsWarper, then softmax (what `generate(do_sample=True)` draws from).

Writes tests/fixtures/phi/sampling.safetensors:
* `logits` (R, V) float32: random rows (V = 40), row 3 with a tie at the top-k boundary;
* per case c: `case.temperature`, `case.top_k`, `case.top_p` (C) and `probs` (C, R, V) float64
  (the warped scores softmaxed in float64, so the fixture does not round the reference).

Run: tools/reference/.venv/bin/python tools/reference/sampling_fixtures.py
"""

import os

import torch
from safetensors.torch import save_file
from transformers.generation.logits_process import (
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "phi", "sampling.safetensors")

# (temperature, top_k, top_p); top_k 0 / top_p 1.0 = that warper left out, as generate() does.
CASES = [
    (1.0, 0, 1.0),
    (0.7, 0, 1.0),
    (1.3, 5, 1.0),
    (1.0, 0, 0.9),
    (0.5, 0, 0.5),
    (1.0, 8, 0.8),
    (2.0, 3, 0.95),
    (1.0, 1, 1.0),
    (0.8, 0, 0.05),
    (1.0, 12, 0.3),
]


def main():
    torch.manual_seed(20240517)
    rows, vocab = 6, 40
    logits = (3.0 * torch.randn(rows, vocab)).float()
    # A tie at the boundary of top-k 5: transformers keeps every token equal to the k-th score.
    order = torch.argsort(logits[3], descending=True)
    logits[3, order[5]] = logits[3, order[4]]
    probs = []
    for temperature, top_k, top_p in CASES:
        warpers = LogitsProcessorList([TemperatureLogitsWarper(temperature)])
        if top_k > 0:
            warpers.append(TopKLogitsWarper(top_k))
        if top_p < 1.0:
            warpers.append(TopPLogitsWarper(top_p))
        scores = warpers(torch.zeros(rows, 1, dtype=torch.long), logits.clone())
        probs.append(torch.softmax(scores.double(), dim=-1))
    tensors = {
        "logits": logits.contiguous(),
        "case.temperature": torch.tensor([c[0] for c in CASES], dtype=torch.float64),
        "case.top_k": torch.tensor([c[1] for c in CASES], dtype=torch.int64),
        "case.top_p": torch.tensor([c[2] for c in CASES], dtype=torch.float64),
        "probs": torch.stack(probs).contiguous(),
    }
    save_file(tensors, OUT)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
