"""A tiny random-weight llama GGUF for demos and tests.

It exercises the whole path (GGUF loading, llama.cpp's server, tokenisation, chat template,
streaming) without downloading anything. Its weights are random, so its answers are noise:
short runs of printable ASCII characters (the output layer favours them and ends the answer
with a small probability per token, ~25 tokens at the median). It is not a language model in
any useful sense.

The file is generated once, written atomically (temp file + rename) and reused while its
`harombe.demo_version` matches.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np

DEMO_MODEL_NAME = "harombe-demo"
DEMO_FILE_NAME = "harombe-demo.gguf"
DEMO_VERSION = 2
_VERSION_KEY = "harombe.demo_version"

_N_EMBD = 64
_N_HEAD = 4
_N_FF = 128
_N_LAYER = 2
# The vocabulary is bytes, so a prompt costs one token per character: a pasted paper needs a
# long context. A tiny model's KV cache stays small even at this length.
_N_CTX = 32768
_SEED = 20240601
_SPECIAL = ["<unk>", "<s>", "</s>"]
_N_VOCAB = len(_SPECIAL) + 256
_EOS_ID = 2
_BIAS_DIM = 0  # every token embedding has a large constant here: the output's "bias" channel
_PRINTABLE_BIAS = 1.0
# End-of-answer's edge over a printable byte. It must stay above the printable bytes' noise, or
# llama.cpp's default top-k (40) drops it and answers run to the context limit; at 0.1 the
# median answer is ~25 tokens.
_EOS_BIAS = 0.1
_OTHER_BIAS = -4.0

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def default_directory() -> Path:
    from harombe.config import HOME_DIR

    return HOME_DIR / "models"


def ensure_demo_model(directory: Path | None = None) -> Path:
    """The demo GGUF's path, generating it first if it is missing or stale. Blocking."""
    directory = Path(directory) if directory is not None else default_directory()
    path = directory / DEMO_FILE_NAME
    if is_valid_demo_model(path):
        return path
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{DEMO_FILE_NAME}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
    try:
        _write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def is_valid_demo_model(path: Path) -> bool:
    import gguf

    if not path.is_file():
        return False
    try:
        reader = gguf.GGUFReader(path)
    except (OSError, ValueError, IndexError):  # unreadable, or cut short by a crash
        return False
    field = reader.get_field(_VERSION_KEY)
    return field is not None and int(field.contents()) == DEMO_VERSION


def _vocab() -> tuple[list[str], list[float], list[int]]:
    import gguf

    tokens = [*_SPECIAL, *(f"<0x{b:02X}>" for b in range(256))]
    scores = [0.0] * len(tokens)
    types = [
        int(gguf.TokenType.UNKNOWN),
        int(gguf.TokenType.CONTROL),
        int(gguf.TokenType.CONTROL),
        *[int(gguf.TokenType.BYTE)] * 256,
    ]
    return tokens, scores, types


def _output_bias() -> np.ndarray:
    bias = np.full(_N_VOCAB, _OTHER_BIAS, dtype=np.float32)
    printable = [len(_SPECIAL) + b for b in range(0x20, 0x7F)]
    bias[printable] = _PRINTABLE_BIAS
    bias[_EOS_ID] = _PRINTABLE_BIAS + _EOS_BIAS
    return bias


def _weights() -> dict[str, np.ndarray]:
    """Random f32 weights, shaped as numpy sees them (GGUFWriter reverses to ggml order)."""
    rng = np.random.default_rng(_SEED)

    def rand(*shape: int, scale: float = 0.02) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    embd = rand(_N_VOCAB, _N_EMBD, scale=0.1)
    embd[:, _BIAS_DIM] = 4.0
    output = rand(_N_VOCAB, _N_EMBD, scale=0.05)
    # After RMS norm the bias channel is ~sqrt(n_embd) for every position; scale it back to 1.
    output[:, _BIAS_DIM] = _output_bias() / np.sqrt(_N_EMBD)
    tensors = {
        "token_embd.weight": embd,
        "output_norm.weight": np.ones(_N_EMBD, dtype=np.float32),
        "output.weight": output,
    }
    for i in range(_N_LAYER):
        blk = f"blk.{i}"
        tensors |= {
            f"{blk}.attn_norm.weight": np.ones(_N_EMBD, dtype=np.float32),
            f"{blk}.attn_q.weight": rand(_N_EMBD, _N_EMBD),
            f"{blk}.attn_k.weight": rand(_N_EMBD, _N_EMBD),
            f"{blk}.attn_v.weight": rand(_N_EMBD, _N_EMBD),
            f"{blk}.attn_output.weight": rand(_N_EMBD, _N_EMBD),
            f"{blk}.ffn_norm.weight": np.ones(_N_EMBD, dtype=np.float32),
            f"{blk}.ffn_gate.weight": rand(_N_FF, _N_EMBD),
            f"{blk}.ffn_up.weight": rand(_N_FF, _N_EMBD),
            f"{blk}.ffn_down.weight": rand(_N_EMBD, _N_FF),
        }
    return tensors


def _write(path: Path) -> None:
    import gguf

    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name(DEMO_MODEL_NAME)
    writer.add_uint32(_VERSION_KEY, DEMO_VERSION)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(_N_CTX)
    writer.add_embedding_length(_N_EMBD)
    writer.add_block_count(_N_LAYER)
    writer.add_feed_forward_length(_N_FF)
    writer.add_head_count(_N_HEAD)
    writer.add_head_count_kv(_N_HEAD)
    writer.add_rope_dimension_count(_N_EMBD // _N_HEAD)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(_N_VOCAB)

    tokens, scores, types = _vocab()
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(_EOS_ID)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(False)
    writer.add_chat_template(CHAT_TEMPLATE)

    for name, tensor in _weights().items():
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
