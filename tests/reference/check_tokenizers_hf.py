#!/usr/bin/env python3
"""check_tokenizers_hf.py: checks the committed tokenizer fixtures against Hugging Face tokenizers
(the Rust library; run it where `import tokenizers` works, e.g. the GPU machine's image):
  - gpt2_ids.json: every text's ids, and the Moby-Dick count and hash when the file is given;
  - tiny_bpe_ids.json under tiny_bpe_tokenizer.json;
  - neox_style_ids.json under neox_style_tokenizer.json (ids and decoded text; the extra cases with
    its extra added tokens);
  - byte_level_tokenizer.json (our writer's output) loads and maps text to byte ids.
Usage: python3 tests/reference/check_tokenizers_hf.py GPT2_TOKENIZER_JSON [MOBY_DICK_TXT]
Exits non-zero on any mismatch."""
import json
import os
import struct
import sys

from tokenizers import Tokenizer

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "datasets")


def fnv1a64(ids):
    h = 0xCBF29CE484222325
    for i in ids:
        for b in struct.pack("<i", i):
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def main():
    bad = 0
    gpt2 = Tokenizer.from_file(sys.argv[1])
    fx = json.load(open(os.path.join(HERE, "gpt2_ids.json")))
    for c in fx["cases"]:
        got = gpt2.encode(c["text"], add_special_tokens=False).ids
        if got != c["ids"]:
            bad += 1
            print("gpt2 MISMATCH:", repr(c["text"][:60]), got[:20], c["ids"][:20])
    print(f"gpt2: {len(fx['cases'])} texts checked")
    if len(sys.argv) > 2 and "moby_dick" in fx:
        text = open(sys.argv[2], encoding="utf-8").read()
        ids = gpt2.encode(text, add_special_tokens=False).ids
        ok = len(ids) == fx["moby_dick"]["count"] and fnv1a64(ids) == fx["moby_dick"]["fnv1a64"]
        bad += not ok
        print(f"gpt2 Moby-Dick: {len(ids)} tokens, hash {fnv1a64(ids)}: {'ok' if ok else 'MISMATCH'}")
    tiny = Tokenizer.from_file(os.path.join(HERE, "tiny_bpe_tokenizer.json"))
    for c in json.load(open(os.path.join(HERE, "tiny_bpe_ids.json")))["cases"]:
        got = tiny.encode(c["text"], add_special_tokens=False).ids
        if got != c["ids"]:
            bad += 1
            print("tiny MISMATCH:", repr(c["text"]), got, c["ids"])
    print("tiny: checked")
    neox_path = os.path.join(HERE, "neox_style_tokenizer.json")
    neox = Tokenizer.from_file(neox_path)
    nfx = json.load(open(os.path.join(HERE, "neox_style_ids.json")))
    extra = json.load(open(neox_path))
    extra["added_tokens"] += nfx["extra_added_tokens"]
    extra_tok = Tokenizer.from_str(json.dumps(extra))
    for c in nfx["extra_cases"]:
        got = extra_tok.encode(c["text"], add_special_tokens=False).ids
        if got != c["ids"]:
            bad += 1
            print("neox-style extra MISMATCH:", repr(c["text"]), got, c["ids"])
    for c in nfx["cases"]:
        got = neox.encode(c["text"], add_special_tokens=False).ids
        text = neox.decode(got, skip_special_tokens=False)
        if got != c["ids"] or text != c["decoded"]:
            bad += 1
            print("neox-style MISMATCH:", repr(c["text"]), got, c["ids"], repr(text))
    print("neox-style: checked")
    byte = Tokenizer.from_file(os.path.join(HERE, "byte_level_tokenizer.json"))
    text = "Bytes: caf\u00e9 \U0001f916 \t\n end"
    got = byte.encode(text + "<|endoftext|>", add_special_tokens=False).ids
    want = list(text.encode("utf-8")) + [256]
    bad += got != want
    print("byte_level_tokenizer.json:", "ok" if got == want else f"MISMATCH {got} {want}",
          "| decode:", repr(byte.decode(got, skip_special_tokens=False)))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
