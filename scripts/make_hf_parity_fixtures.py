#!/usr/bin/env python3
"""Regenerates tests/fixtures/hf-parity/: small random-weight models of each Hugging Face family
r1 reads, saved by transformers, with transformers' own log-probabilities as the reference.

NOT RUN HERE: transformers is not installed on the machine this script was written on. The
committed fixtures were made by transformers 5.17.0 (PyTorch 2.11) as described in their README;
this script was written from that description and follows it, but its output has not been
compared with them.

For each family: the model is built from a small config with random init, every parameter gets
N(0, 0.02) noise added (so that biases and norm weights differ from their init and matter), and
DeepSeek-V3's e_score_correction_bias buffer gets N(0, 0.1) noise. The model is saved in fp32
with save_pretrained (config.json, model.safetensors; no tokenizer), and expected.jsonl holds one
object a line for sequences of 1, 7, 33 and 100 random tokens:
    {"ids": [...], "logprobs": [...]}  with logprobs[i] = log p(ids[i+1] | ids[0..i])
from log_softmax over the full vocabulary of an eager-attention fp32 forward pass.

Usage: python3 scripts/make_hf_parity_fixtures.py [--out tests/fixtures/hf-parity] [--seed 0]
"""
import argparse
import json
import os

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

LENGTHS = [1, 7, 33, 100]

# The shapes of the committed fixtures (tiny: 2 layers, hidden 64, vocabulary 256).
COMMON = dict(vocab_size=256, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
              max_position_embeddings=512, rms_norm_eps=1e-6, tie_word_embeddings=False)

FAMILIES = {
    "qwen2": dict(COMMON, intermediate_size=128, num_key_value_heads=2, rope_theta=10000.0),
    "qwen3": dict(COMMON, intermediate_size=128, num_key_value_heads=2, head_dim=32, rope_theta=10000.0),
    "qwen3_moe": dict(COMMON, intermediate_size=128, num_key_value_heads=2, head_dim=16,
                      num_experts=8, num_experts_per_tok=2, moe_intermediate_size=32,
                      norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[0], rope_theta=10000.0),
    "qwen2_moe": dict(COMMON, intermediate_size=128, num_key_value_heads=2, num_experts=8,
                      num_experts_per_tok=2, moe_intermediate_size=32, shared_expert_intermediate_size=64,
                      norm_topk_prob=False, decoder_sparse_step=1, mlp_only_layers=[], rope_theta=10000.0),
    "mixtral": dict(COMMON, intermediate_size=64, num_key_value_heads=2, num_local_experts=4,
                    num_experts_per_tok=2, rope_theta=1e6),
    "deepseek_v3": dict(COMMON, intermediate_size=128, num_key_value_heads=4, moe_intermediate_size=32,
                        n_routed_experts=8, n_shared_experts=1, num_experts_per_tok=2, n_group=2,
                        topk_group=1, routed_scaling_factor=2.5, norm_topk_prob=True, first_k_dense_replace=1,
                        kv_lora_rank=16, q_lora_rank=32, qk_nope_head_dim=8, qk_rope_head_dim=8,
                        v_head_dim=8, rope_interleave=True, rope_theta=10000.0),
    "deepseek_v2": dict(COMMON, intermediate_size=128, num_key_value_heads=4, moe_intermediate_size=32,
                        n_routed_experts=8, n_shared_experts=1, num_experts_per_tok=2, topk_method="greedy",
                        routed_scaling_factor=1.0, norm_topk_prob=False, first_k_dense_replace=1,
                        kv_lora_rank=16, q_lora_rank=None, qk_nope_head_dim=8, qk_rope_head_dim=8,
                        v_head_dim=8, rope_theta=10000.0),
}


def make_config(model_type, settings):
    settings = dict(settings)
    theta = settings.pop("rope_theta")
    # transformers 5 spells RoPE as rope_parameters; 4.x as rope_theta (+ rope_scaling).
    if int(transformers.__version__.split(".")[0]) >= 5:
        settings["rope_parameters"] = {"rope_type": "default", "rope_theta": theta}
    else:
        settings["rope_theta"] = theta
    config = AutoConfig.for_model(model_type, **settings)
    config._attn_implementation = "eager"  # the plain math, not a fused kernel
    return config


@torch.no_grad()
def perturb(model, generator):
    for param in model.parameters():
        param.add_(torch.randn(param.shape, generator=generator, dtype=param.dtype) * 0.02)
    for name, buffer in model.named_buffers():
        if name.endswith("e_score_correction_bias"):
            buffer.add_(torch.randn(buffer.shape, generator=generator, dtype=buffer.dtype) * 0.1)


@torch.no_grad()
def logprobs(model, ids):
    if len(ids) < 2:
        return []
    input_ids = torch.tensor([ids], dtype=torch.long)
    logits = model(input_ids=input_ids).logits[0].float()
    logp = torch.log_softmax(logits, dim=-1)
    return [logp[i, ids[i + 1]].item() for i in range(len(ids) - 1)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "hf-parity"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for index, (model_type, settings) in enumerate(FAMILIES.items()):
        torch.manual_seed(args.seed + index)
        generator = torch.Generator().manual_seed(args.seed + 1000 + index)
        config = make_config(model_type, settings)
        model = AutoModelForCausalLM.from_config(config).to(torch.float32).eval()
        perturb(model, generator)
        out = os.path.join(args.out, model_type)
        os.makedirs(out, exist_ok=True)
        model.save_pretrained(out, safe_serialization=True)
        with open(os.path.join(out, "expected.jsonl"), "w") as f:
            for length in LENGTHS:
                ids = torch.randint(0, config.vocab_size, (length,), generator=generator).tolist()
                f.write(json.dumps({"ids": ids, "logprobs": logprobs(model, ids)}) + "\n")
        print(f"{model_type}: {sum(p.numel() for p in model.parameters())} parameters -> {out}")


if __name__ == "__main__":
    main()
