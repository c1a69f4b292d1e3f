"""GUMLP's forward and its input-gradient (VJP) written out by hand on the frozen
weights of a lifter.model.GUMLP: the same arithmetic (checked against the module and
autograd in tests/test_uao.py at the shipped depth), with fewer kernels, no autograd
bookkeeping and no weight gradients.

It reads the module's own parameters at every `fold`, so it can never disagree with
them (no second copy of the weights, no cache to invalidate); folding costs about 0.1 ms.
Measured (batch 1, 1 thread): forward 3.2 ms here vs 7.5 ms through the module under
inference_mode, forward + input-gradient 14.7 vs 19.7 ms with autograd.
At batch 1 this lifter is bound by arithmetic (dense products and 18 exact GELUs per
pass, README "On speed targets"), not by per-kernel overhead: the gain comes from the
exact folds below and from dropping autograd's bookkeeping, not from fewer launches.
Folds that are exact in eval mode: the embedding's two linears (no activation between)
into one; each head's LayerNorm affine and two linears into one matrix, both heads
stacked (B, 17, 4); the graph convolution's sum over kernels into one (17, 17 K) product.
"""
import torch

F = torch.nn.functional


def _gelu_bw(grad, pre):
    return torch.ops.aten.gelu_backward(grad, pre)


def _ln_bw(grad, inp, mean, rstd, weight):
    return torch.ops.aten.native_layer_norm_backward(grad, inp, inp.shape[-1:], mean, rstd, weight, None,
                                                     [True, False, False])[0]


class FoldedGUMLP:
    """The eval-mode arithmetic of `model` (a GUMLP), whatever its train flag."""

    @torch.no_grad()
    def __init__(self, model):
        e1, e2 = model.embed[0], model.embed[1]
        self.E = e2.weight @ e1.weight                          # (C, 2)
        self.e = e2.weight @ e1.bias + e2.bias
        self.blocks = []
        for blk in model.blocks:
            A = blk.gcn.A                                       # (K, J, J)
            K, J, _ = A.shape
            ln = lambda m: (m.weight, m.bias, m.eps)  # noqa: E731
            lin = lambda m: (m.weight, m.bias)  # noqa: E731
            self.blocks.append(dict(
                ln0=ln(blk.gcn_norm), P=lin(blk.gcn.proj), Ahat=A.permute(1, 2, 0).reshape(J, J * K),
                ln1=ln(blk.channel.norm), down=lin(blk.channel.down), mid=lin(blk.channel.mid),
                up=lin(blk.channel.up), ln2=ln(blk.joint.norm),
                l=[lin(m) for m in (blk.joint.l1, blk.joint.l2, blk.joint.l3, blk.joint.l4, blk.joint.l5)]))
        heads = []
        for h in (model.mean_head, model.sigma_head):
            w2w1 = h.fc2.weight @ h.fc1.weight
            heads.append((w2w1 * h.norm.weight, h.fc2.weight @ (h.fc1.weight @ h.norm.bias + h.fc1.bias) + h.fc2.bias))
        # both heads normalise the same feature; they share one normalisation (same eps)
        self.H = torch.cat([heads[0][0], heads[1][0]])          # (4, C): mu xyz, s
        self.h = torch.cat([heads[0][1], heads[1][1]])
        self.head_eps = model.mean_head.norm.eps

    @torch.no_grad()
    def encode(self, z, cache=None):
        """(B, 17, 2) -> feature (B, 17, C); with a list `cache`, keep what vjp needs."""
        x = F.linear(z, self.E, self.e)
        for b in self.blocks:
            B, J, C = x.shape
            a, m0, r0 = torch.native_layer_norm(x, (C,), *b["ln0"])
            x1 = x + torch.matmul(b["Ahat"], F.linear(a, *b["P"]).view(B, -1, C))
            c, m1, r1 = torch.native_layer_norm(x1, (C,), *b["ln1"])
            d = F.linear(c, *b["down"])
            h1 = F.gelu(d)
            md = F.linear(h1, *b["mid"])
            t = x1.transpose(1, 2).contiguous()
            tn, m2, r2 = torch.native_layer_norm(t, (J,), *b["ln2"])
            l1, l2, l3, l4, l5 = b["l"]
            e1 = F.linear(tn, *l1)
            g1 = F.gelu(e1)
            e2 = F.linear(g1, *l2)
            g2 = F.gelu(e2)
            e3 = F.linear(g2, *l3)
            h3 = F.gelu(e3) + g2
            e4 = F.linear(h3, *l4)
            h4 = F.gelu(e4) + g1
            out = x1 + F.linear(F.gelu(md) + h1, *b["up"]) + F.linear(h4, *l5).transpose(1, 2)
            if cache is not None:
                cache.append((x, m0, r0, x1, m1, r1, d, md, t, m2, r2, e1, e2, e3, e4))
            x = out
        return x

    @torch.no_grad()
    def encode_vjp(self, grad, cache):
        """d loss / d feature (B, 17, C) -> d loss / d input (B, 17, 2)."""
        for b, (x, m0, r0, x1, m1, r1, d, md, t, m2, r2, e1, e2, e3, e4) in zip(self.blocks[::-1], cache[::-1]):
            B, J, C = x.shape
            l1, l2, l3, l4, l5 = b["l"]
            # joint MLP (over the joint axis, on the transposed feature)
            dh4 = grad.transpose(1, 2) @ l5[0]
            dh3 = _gelu_bw(dh4, e4) @ l4[0]
            dg2 = _gelu_bw(dh3, e3) @ l3[0] + dh3
            dg1 = _gelu_bw(dg2, e2) @ l2[0] + dh4
            dtn = _gelu_bw(dg1, e1) @ l1[0]
            dx1 = grad + _ln_bw(dtn, t, m2, r2, b["ln2"][0]).transpose(1, 2)
            # channel MLP
            dsum = grad @ b["up"][0]
            dh1 = _gelu_bw(dsum, md) @ b["mid"][0] + dsum
            dx1 = dx1 + _ln_bw(_gelu_bw(dh1, d) @ b["down"][0], x1, m1, r1, b["ln1"][0])
            # graph convolution
            dp = (b["Ahat"].T @ dx1).view(B, J, -1) @ b["P"][0]
            grad = dx1 + _ln_bw(dp, x, m0, r0, b["ln0"][0])
        return grad @ self.E

    @torch.no_grad()
    def decode(self, f):
        """feature (B, 17, C) -> mu (B, 17, 3), s (B, 17), and the normalisation for vjp."""
        n, mean, rstd = torch.native_layer_norm(f, f.shape[-1:], None, None, self.head_eps)
        out = F.linear(n, self.H, self.h)
        return out[..., :3], out[..., 3], (f, mean, rstd)

    @torch.no_grad()
    def decode_vjp(self, dmu, norm):
        """d loss / d mu (B, 17, 3) -> d loss / d feature (B, 17, C) (s is detached)."""
        f, mean, rstd = norm
        return _ln_bw(dmu @ self.H[:3], f, mean, rstd, None)
