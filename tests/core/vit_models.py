"""Small random-weight vision transformers for the token, attention and CAM tests,
and a hand-written torchvision ViT forward pass that exposes its attention."""
import math

import torch
import torch.nn.functional as F
import torchvision


def tv_vit(seed=0, image=40, patch=8, layers=2, heads=3, hidden=36, mlp=50, classes=4):
    """torchvision VisionTransformer with odd sizes and no zero weights (its head starts at zero)."""
    torch.manual_seed(seed)
    model = torchvision.models.VisionTransformer(image, patch, layers, heads, hidden, mlp, num_classes=classes)
    with torch.no_grad():
        model.heads.head.weight.normal_(0, 0.3)
        model.heads.head.bias.normal_(0, 0.1)
        model.class_token.normal_(0, 0.5)
        for block in model.encoder.layers:
            block.self_attention.in_proj_weight.mul_(3.0)  # sharper, less uniform attention
            block.self_attention.in_proj_bias.normal_(0, 0.1)
    return model.eval()


def image(seed=0, size=40):
    return torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(seed))


def manual_forward(model, x, keep=None):
    """torchvision ViT forward written out, attention computed from ``in_proj_weight``.

    ``keep``: a list receiving each layer's probabilities (heads, T, T) as
    tensors in the graph (so gradients with respect to them can be taken).
    """
    n = x.shape[0]
    p = model.patch_size
    tokens = model.conv_proj(x).reshape(n, model.hidden_dim, -1).permute(0, 2, 1)
    h = torch.cat([model.class_token.expand(n, -1, -1), tokens], 1) + model.encoder.pos_embedding
    for block in model.encoder.layers:
        attn = block.self_attention
        heads, e = attn.num_heads, attn.embed_dim
        d = e // heads
        y = block.ln_1(h)
        q, k, v = F.linear(y, attn.in_proj_weight, attn.in_proj_bias).split(e, dim=-1)

        def split(t):
            return t.reshape(n, -1, heads, d).transpose(1, 2)

        q, k, v = split(q), split(k), split(v)
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
        if keep is not None:
            keep.append(probs)
        mixed = (probs @ v).transpose(1, 2).reshape(n, -1, e)
        h = h + attn.out_proj(mixed)
        h = h + block.mlp(block.ln_2(h))
    assert p == model.patch_size
    return model.heads(model.encoder.ln(h)[:, 0])
