#!/usr/bin/env python3
"""The transformers baseline of `r1 bench rollout --shapes`: the same config.json, random weights,
generate() with sampling, every sequence forced to new_tokens tokens (min_new_tokens).

Prints one JSON object on its last line: {"tok_s": ...} or, where torch or transformers is not
installed, {"note": "..."} (exit 0, so the C++ bench records the reason instead of failing).
"""
import argparse
import json
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True, help="a Hugging Face config.json")
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--prompt-tokens", type=int, required=True)
    parser.add_argument("--new-tokens", type=int, required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        import torch
        import transformers
    except ImportError as error:
        print(json.dumps({"note": f"transformers baseline skipped: {error}"}))
        return 0

    with open(args.config) as f:
        config_dict = json.load(f)
    model_type = config_dict.pop("model_type")
    config = transformers.AutoConfig.for_model(model_type, **config_dict)
    torch.manual_seed(args.seed)
    dtype = torch.bfloat16 if args.dtype == "bfloat16" else torch.float32
    # Built on the device itself: random init of OLMoE's 6.9B parameters on the host, then a copy,
    # would cost the bench minutes per batch size on a short device lease.
    with torch.device(args.device):
        model = transformers.AutoModelForCausalLM.from_config(config, torch_dtype=dtype)
    model.to(args.device).eval()

    prompts = torch.randint(0, config.vocab_size, (args.batch, args.prompt_tokens), device=args.device)
    mask = torch.ones_like(prompts)

    def run(new_tokens: int) -> torch.Tensor:
        with torch.inference_mode():
            return model.generate(input_ids=prompts, attention_mask=mask, do_sample=True, temperature=1.0,
                                  top_k=0, top_p=1.0, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                  pad_token_id=0, eos_token_id=None)

    run(min(4, args.new_tokens))  # warm-up: kernels, allocator
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = run(args.new_tokens)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    generated = (out.shape[1] - args.prompt_tokens) * args.batch
    print(json.dumps({"tok_s": generated / seconds, "seconds": seconds, "tokens": generated,
                      "transformers": transformers.__version__, "torch": torch.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
