"""The pushed block as a layer of its own (an object slot), drawn over the predicted frame.

A composite copies the context frame's pixels only in place, and a decoder asked to paint a
moved block anew from its embedding paints a smear that fades within a few frames; its mask
also paints the table over a block it cannot place. Here the block is never the decoder's to
draw. From the context frames the block locator (:class:`vidpred.vision.BlockLocator`, the
colour read from those frames) gives, per context frame, where the block's visible pixels are
(their centroid, weight and bounding box); a small recurrent network (:class:`BlockDynamics`)
reads them with the conditions (the action and the end effector's position, frame by frame)
and predicts the centre of the whole block, occluded parts included, in every frame from the
last context frame on, and the side of its square.

The layer is the block's region in the last context frame where it is visible (else the last
that gives a glimpse of it, :func:`source_frame`): its visible pixels grown by one into what
shows the table (never into the arm), with their own colours, and the part of the predicted
square that something (the arm) hides there, in the block's mean colour. A block the arm hides
but for a glimpse (:data:`GLIMPSE`: a pixel or two of its colour in a context frame) is known
too: those pixels tell its colour, and the dynamics, fitted to such contexts as well, where the
rest of it lies under the arm; its hidden part is drawn at a visible block's usual brightness
(``BlockLayer.brightness``), a glimpse being mostly its shaded edge.
What hides it is told by the frame differing from the empty scene and, since the gripper's light
grey hardly differs from the white table, by the frame memory's arm mask of that context frame.
It moves by the predicted displacement in whole pixels (none below :data:`STAY`), so a block
that stays is copied exactly and a pushed one keeps sharp edges. The head
(:class:`vidpred.models.heads.ArmPasteHead`) erases the region from the frame it composites over
(the empty scene shows there) and lays the layer over the drawn frame, under the pasted arm.

The network is fitted once, before training (:meth:`BlockDynamics.fit`), on the training
split: its inputs are the locator's answers on the true frames, its targets the block's true
centres (the push generator's ``objects.npz``, :mod:`vidpred.data.objects`; without that file,
the locator's centroids) and side (the square root of the most pixels the block covers in the
clip). It is a regression on a few numbers per frame, so seconds of fitting teach what the
image loss, where the block is about 1% of the pixels, teaches slowly. This is the object layer
of layered video models (Wang & Adelson, "Representing moving images with layers", IEEE TIP
1994) with its motion read from the robot's actions, which decide a push, as Finn, Goodfellow &
Levine (NIPS 2016) move the previous frame by transformations predicted from the actions.
"""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..camera import fit_push_map, project, push_frames
from ..errors import DataError
from ..vision import MIN_BLOCK_PIXELS, PIXEL_CENTRE, BlockLocator, centroid, visible

# per context frame: seen flag, weight (/ SCALE_MASS), centroid (2) and bounding box (4)
# relative to the last context frame's centroid (/ SCALE_PX pixels at 64 x 64)
FRAME_FEATURES = 8
# the condition's end-effector x-y, metres (BAIR: action 4, then position 3): with a camera map,
# the gripper's pixel relative to the block's, per frame
GRIP = slice(4, 6)
GRIP_FEATURES = 2
GRIP_REACH = 8.0     # the gripper's relative pixel clipped to this many SCALE_PX (64 px)
SCALE_PX = 8.0
SCALE_MASS = 100.0
# pixels: a predicted displacement shorter than this is none (the fit's error at a block that
# stays is about half a pixel; chosen on the validation split, docs/push-demo.md)
STAY = 2.0
HIDDEN_DIFF = 0.1    # RGB difference from the empty scene of a pixel that something covers
WEIGHT_IN = 0.5      # a pixel belongs to the block's visible part where its weight reaches this
CONTEXT = 2          # context frames the dynamics read: the last two (with n_past 1, the one twice)
FIT_STEPS = 3000     # at most; at least MIN_FIT_STEPS, else FIT_EPOCHS passes over the windows
MIN_FIT_STEPS = 100
# passes over the split's windows: fewer leave long pushes short, twice as many overfit a split
# of ~1,000 clips (docs/push-demo.md)
FIT_EPOCHS = 40
FIT_BATCH = 256
FIT_LR = 3e-3
# weight (about pixels at 64 x 64) of the block's colour in one context frame that tells the
# layer the block is there and its colour, though the arm hides the rest: far below a visible
# block's MIN_BLOCK_PIXELS.
# The arm's start pose hides most of about one block in seven in both context frames; a
# glimpse of a pixel or two reads its colour within the locator's NEAR, and the push scene
# shows no foreign pixel elsewhere (docs/push-demo.md)
GLIMPSE = 1.0


def frame_features(weights: Tensor,
                   least: float = MIN_BLOCK_PIXELS) -> tuple[Tensor, Tensor]:
    """Block weights (..., H, W) in [0, 1] -> (features (..., 7): the weights' sum, their
    centroid (x, y) and the bounding box (x0, x1, y0, y1) of the pixels weighing at least
    :data:`WEIGHT_IN`, in pixels (centres at +0.5), zeros where the block is not seen;
    seen (...) bool: the weights sum to at least ``least`` pixels at 64 x 64, scaled
    (:func:`vidpred.vision.visible`))."""
    H, W = weights.shape[-2:]
    xy, mass = centroid(weights)
    cx, cy = xy.unbind(-1)
    seen = visible(mass, H, W, least)
    inside = weights >= WEIGHT_IN
    xs = torch.arange(W, dtype=weights.dtype, device=weights.device) + PIXEL_CENTRE
    ys = torch.arange(H, dtype=weights.dtype, device=weights.device) + PIXEL_CENTRE
    big = float(max(H, W)) * 4
    col, row = inside.any(-2), inside.any(-1)
    x0 = torch.where(col, xs, big).amin(-1)
    x1 = torch.where(col, xs, -big).amax(-1)
    y0 = torch.where(row, ys, big).amin(-1)
    y1 = torch.where(row, ys, -big).amax(-1)
    any_in = col.any(-1)
    box = torch.stack([x0, x1, y0, y1], -1)
    box = torch.where(any_in[..., None], box, torch.stack([cx, cx, cy, cy], -1))
    feats = torch.cat([torch.stack([mass, cx, cy], -1), box], -1)
    feats = torch.where(seen[..., None], feats, torch.zeros_like(feats))
    return feats, seen


def last_seen(seen: Tensor) -> Tensor:
    """(B, n) bool -> (B,) long: the last index where ``seen`` holds (the last, where none)."""
    n = seen.shape[1]
    order = torch.arange(n, device=seen.device)
    return torch.where(seen, order, -1).amax(1).where(seen.any(1), n - 1)


def source_frame(feats: Tensor, seen: Tensor, hw: tuple[int, int]) -> Tensor:
    """The context frame the layer takes the block from: features (B, n, 7) and whether each
    frame is seen (B, n) -> (B,) long, the last frame whose block is visible (at least
    :data:`vidpred.vision.MIN_BLOCK_PIXELS`, :func:`vidpred.vision.visible`), else the last
    that is seen (the last frame, where none is). A glimpse's few pixels place the block and
    tell its colour less well."""
    shown = seen & visible(feats[..., 0], *hw)
    return torch.where(shown.any(1), last_seen(shown), last_seen(seen))


def reference(feats: Tensor, seen: Tensor, hw: tuple[int, int]) -> Tensor:
    """The centroid (B, 2) pixels of the block in the context frame the layer takes it from
    (:func:`source_frame`; features (B, n, 7), seen (B, n)); the image's centre where no
    frame shows it."""
    pick = torch.arange(feats.shape[0], device=feats.device)
    ref = feats[pick, source_frame(feats, seen, hw), 1:3]
    centre = torch.tensor([hw[1] / 2, hw[0] / 2], dtype=feats.dtype, device=feats.device)
    return torch.where(seen.any(1)[:, None], ref, centre)


class BlockDynamics(nn.Module):
    """Where the whole block is, frame by frame, from the context and the conditions.

    Args:
        cond_dim: size D of a frame's condition vector (BAIR: action 4 + end effector 3).
        n_past: context frames.
        image_hw: frame size (H, W); pixel inputs and outputs scale with H / 64.
        hidden: units of the GRU and of the input layers.
        gripper: also read, per frame, where the gripper is in the image relative to the
            block's centroid in the context frame the layer takes it from (:func:`reference`;
            the image's centre where none shows it): the end effector's x-y
            (:data:`GRIP`) through a camera map the fit learns from the split's pushes
            (:func:`vidpred.camera.fit_push_map`). A push is decided by that offset, which the
            network would otherwise have to learn to compute from metres and pixels. Needs
            D >= 6; off (as in checkpoints written before it existed) the inputs are as before.

    Shapes: context features (B, n_past, 7) (:func:`frame_features`, seen from the weight in
    the buffer ``least``: :data:`GLIMPSE`; :data:`vidpred.vision.MIN_BLOCK_PIXELS` where a
    checkpoint has no ``least``) and whether each frame is seen (B, n_past), the context frames'
    conditions (B, n_past, D) and those from the last context frame on (B, S, D) -> (centres
    (B, S, 2) in pixels, side (B,) pixels). The conditions are standardised with the training
    split's mean and spread (buffers set by :meth:`fit`).
    """

    def __init__(self, cond_dim: int, n_past: int, image_hw: tuple[int, int], hidden: int = 64,
                 gripper: bool = True):
        super().__init__()
        self.n_past, self.image_hw = n_past, tuple(image_hw)
        self.scale = image_hw[0] / 64
        self.gripper = gripper and cond_dim >= GRIP.stop
        g = GRIP_FEATURES if self.gripper else 0
        self.context = nn.Sequential(nn.Linear(n_past * (FRAME_FEATURES + cond_dim + g) + 2,
                                               hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.steps = nn.Sequential(nn.Linear(2 * cond_dim + g, hidden), nn.ReLU())
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.centre = nn.Linear(hidden, 2)
        self.side = nn.Linear(hidden, 1)
        self.register_buffer("cond_mean", torch.zeros(cond_dim))
        self.register_buffer("cond_std", torch.ones(cond_dim))
        self.register_buffer("fitted", torch.tensor(False))
        # the least weight of a context frame's block that its features count as seen (a
        # checkpoint without it: MIN_BLOCK_PIXELS, BlockLayer.adopt)
        self.register_buffer("least", torch.tensor(GLIMPSE))
        if self.gripper:
            # table metres -> pixels, and whether the fit found pushes enough to learn it
            self.register_buffer("table", torch.eye(3))
            self.register_buffer("mapped", torch.tensor(False))

    def forward(self, feats: Tensor, seen: Tensor, cond_ctx: Tensor,
                cond: Tensor) -> tuple[Tensor, Tensor]:
        px = SCALE_PX * self.scale
        H, W = self.image_hw
        ref = reference(feats, seen, self.image_hw)
        rel = torch.cat([seen[..., None].to(feats.dtype), feats[..., :1] / SCALE_MASS,
                         (feats[..., 1:] - ref.repeat(1, 3)[:, None]) / px], -1)
        rel = torch.where(seen[..., None], rel, torch.zeros_like(rel))
        ctx_c = (cond_ctx - self.cond_mean) / self.cond_std
        c = (cond - self.cond_mean) / self.cond_std
        where = torch.stack([ref[:, 0] / W, ref[:, 1] / H], -1) * 2 - 1
        per_frame, steps = [rel, ctx_c], [c, c - c[:, :1]]
        if self.gripper:
            per_frame.append(self._grip(cond_ctx, ref, px))
            steps.append(self._grip(cond, ref, px))
        per_frame = torch.cat(per_frame, -1).flatten(1)
        h0 = torch.tanh(self.context(torch.cat([per_frame, where], -1)))
        out, _ = self.gru(self.steps(torch.cat(steps, -1)), h0[None].contiguous())
        centres = ref[:, None] + self.centre(out) * px
        side = F.softplus(self.side(h0)[:, 0] + 2.0) * px
        return centres, side

    def _grip(self, cond: Tensor, ref: Tensor, px: float) -> Tensor:
        """Conditions (B, n, D) -> the gripper's pixel relative to ``ref`` (B, 2), in ``px``
        (B, n, 2); zeros without a camera map."""
        g = (project(self.table, cond[..., GRIP]) - ref[:, None]) / px
        return g.clamp(-GRIP_REACH, GRIP_REACH).nan_to_num(0.0) * self.mapped.to(g.dtype)

    def _fit_map(self, cond: Tensor, centres: Tensor, visible: Tensor) -> str:
        """Fit the camera map to the split's pushes; the log's words on it."""
        try:
            found = push_frames(cond[..., GRIP], centres, visible, self.scale)
            h, _, rms = fit_push_map(*found)
        except DataError as e:
            self.mapped.fill_(False)
            return f"; no camera map, the gripper not seen ({e})"
        self.table.copy_(torch.from_numpy(h).to(self.table))
        self.mapped.fill_(True)
        return f"; the gripper seen through a camera map fitted to {len(found[0]):,} pushes " \
               f"(residual {rms:.1f} px)"

    @torch.enable_grad()
    def fit(self, feats: Tensor, seen: Tensor, cond: Tensor, centres: Tensor, visible: Tensor,
            side: Tensor, window: int, seed: int = 0) -> str:
        """Fit to a split's clips: per frame locator features (S, L, 7) and whether each frame is
        seen at ``least`` (S, L), conditions (S, L, D), true centres (S, L, 2) pixels and
        visibility (S, L), the block's side per clip (S,) pixels; windows of ``window`` frames
        (n_past + n_future) drawn at random (a generator seeded ``seed``: the fit does not
        touch the global random state).
        Huber loss on the centres of the frames where the block is visible, in the windows whose
        context shows at least a glimpse of it (``least``, as the layer reads it), and on the side;
        :data:`FIT_EPOCHS` passes over the split's windows, within :data:`MIN_FIT_STEPS` ..
        :data:`FIT_STEPS` steps of :data:`FIT_BATCH`. With ``gripper``, the camera map is
        fitted first, to the pushes among the true centres. Returns the log's line."""
        start = time.perf_counter()
        S, L = cond.shape[:2]
        if L < window:
            raise ValueError(f"the block layer fits windows of {window} frames; the clips have {L}")
        mapped = self._fit_map(cond, centres, visible) if self.gripper else ""
        n_steps = int(min(max(FIT_EPOCHS * S * (L - window + 1) // FIT_BATCH, MIN_FIT_STEPS),
                        FIT_STEPS))
        flat = cond.reshape(-1, cond.shape[-1]).float()
        self.cond_mean.copy_(flat.mean(0))
        self.cond_std.copy_(flat.std(0).clamp_min(1e-3))
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(self.parameters(), FIT_LR / 3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, FIT_LR, total_steps=n_steps)
        k = self.n_past
        was = self.training
        self.train()
        for _ in range(n_steps):
            s = torch.randint(0, S, (FIT_BATCH,), generator=gen).to(cond.device)
            t = torch.randint(0, L - window + 1, (FIT_BATCH,), generator=gen)[:, None] \
                + torch.arange(window)
            t = t.to(cond.device)
            f, v, c = feats[s[:, None], t[:, :k]], seen[s[:, None], t[:, :k]], cond[s[:, None], t]
            pred, sd = self(f, v, c[:, :k], c[:, k - 1:])
            target, keep = centres[s[:, None], t[:, k - 1:]], visible[s[:, None], t[:, k - 1:]]
            # the windows whose context shows the block at all: the layer draws it there
            keep = keep & v.any(1, keepdim=True)
            loss = F.smooth_l1_loss(sd, side[s]) + (F.smooth_l1_loss(pred[keep], target[keep])
                                                     if keep.any() else 0.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        self.train(was)
        self.fitted.fill_(True)
        for p in self.parameters():
            p.requires_grad_(False)
        return (f"block layer: its dynamics fitted to {S:,} training clips in "
                f"{time.perf_counter() - start:.1f} s (last Huber loss "
                f"{float(loss.detach()):.3f} px){mapped}")


def render(centres: Tensor, side: Tensor, hw: tuple[int, int]) -> Tensor:
    """Squares of side ``side`` (B,) pixels centred at ``centres`` (B, S, 2) pixels -> alpha
    (B, S, 1, H, W) in [0, 1], each pixel weighted by how much of it the square covers along
    x times along y (anti-aliased edges)."""
    H, W = hw
    xs = torch.arange(W, dtype=centres.dtype, device=centres.device) + PIXEL_CENTRE
    ys = torch.arange(H, dtype=centres.dtype, device=centres.device) + PIXEL_CENTRE
    half = side[:, None, None] / 2 + 0.5
    ax = (half - (xs - centres[..., :1]).abs()).clamp(0, 1)          # (B, S, W)
    ay = (half - (ys - centres[..., 1:]).abs()).clamp(0, 1)          # (B, S, H)
    return (ay[..., :, None] * ax[..., None, :])[:, :, None]


def translate(x: Tensor, shift: Tensor) -> Tensor:
    """Images (B, C, H, W) moved by each of ``shift`` (B, S, 2) pixels (x right, y down) ->
    (B, S, C, H, W), the shifts rounded to whole pixels, so moved pixels keep their values;
    zeros where nothing moves in (they are read from a zero pixel appended to each image)."""
    B, C, H, W = x.shape
    S = shift.shape[1]
    s = shift.round().long()
    ys = torch.arange(H, device=x.device)[:, None] - s[..., 1, None, None]     # (B, S, H, 1)
    xs = torch.arange(W, device=x.device) - s[..., 0, None, None]              # (B, S, 1, W)
    inside = (ys >= 0) & (ys < H) & (xs >= 0) & (xs < W)                       # (B, S, H, W)
    index = torch.where(inside, ys.clamp(0, H - 1) * W + xs.clamp(0, W - 1), H * W)
    padded = torch.cat([x.flatten(2), x.new_zeros(B, C, 1)], 2)               # (B, C, HW+1)
    return padded[:, None].expand(B, S, C, H * W + 1) \
        .gather(3, index.view(B, S, 1, H * W).expand(B, S, C, H * W)).view(B, S, C, H, W)


class BlockLayer(nn.Module):
    """The block's layer for a clip's steps (module doc).

    Args:
        cond_dim: size of a frame's condition vector. image_hw: frame size (H, W).
    """

    def __init__(self, cond_dim: int, image_hw: tuple[int, int]):
        super().__init__()
        self.dynamics = BlockDynamics(cond_dim, CONTEXT, image_hw)
        # the brightest channel of a visible block's pixels, their mean, the split's median
        # (set by fit; 0, as for a checkpoint without it: a glimpsed block keeps the glimpse's
        # own brightness)
        self.register_buffer("brightness", torch.tensor(0.0))

    def adopt(self, state_dict: dict, prefix: str) -> None:
        """Match a checkpoint's dynamics (its weights under ``prefix``): those written before the
        dynamics saw the gripper (no camera map among them) are rebuilt without it, so they load
        and predict as they did; fitted ones are frozen, as :meth:`fit` leaves them (a resumed
        run loads them instead of fitting). A fitted checkpoint without ``dynamics.least`` or
        ``brightness`` gets them added to ``state_dict`` in place: :data:`MIN_BLOCK_PIXELS`
        (its dynamics read visible blocks only, as they were fitted) and 0 (no brightness
        lift), so it predicts as it did."""
        old = self.dynamics
        fitted = prefix + "dynamics.fitted"
        if fitted not in state_dict:
            return
        # a checkpoint without least and brightness: dynamics that read visible blocks only,
        # the hidden part at the colour read
        state_dict.setdefault(prefix + "dynamics.least", torch.tensor(MIN_BLOCK_PIXELS))
        state_dict.setdefault(prefix + "brightness", torch.tensor(0.0))
        if old.gripper and prefix + "dynamics.table" not in state_dict:
            self.dynamics = BlockDynamics(old.cond_mean.numel(), old.n_past, old.image_hw,
                                          gripper=False).to(old.cond_mean.device)
        # fitted dynamics are frozen: the training step never updates them
        self.dynamics.requires_grad_(not bool(state_dict[fitted]))

    @torch.no_grad()
    def fit(self, frames: Tensor, cond: Tensor, truth: tuple[Tensor, Tensor] | None,
            window: int, seed: int = 0) -> str:
        """Fit the dynamics to a split: frames (S, L, 3, H, W) uint8, conditions (S, L, D) and
        the block's true centres (S, L, 2) pixels and visibility (S, L), or None to take the
        locator's centroids on the frames where the block is visible (at least
        :data:`vidpred.vision.MIN_BLOCK_PIXELS`) for the truth; windows of ``window`` frames,
        the first :data:`CONTEXT` of them the context. Also sets ``brightness``, what a
        glimpsed block's hidden part is drawn at. Returns the log's line.

        Raises:
            ValueError: clips shorter than such a window.
        """
        start = time.perf_counter()
        least = float(self.dynamics.least)
        feats, seen, sides, shown, bright = [], [], [], [], []
        for part in frames.split(64):
            x = part.float().div_(255.0)
            w = BlockLocator.read(x, least=least).weights(x)        # (s, L, H, W)
            f, v = frame_features(w, least)
            feats.append(f)
            seen.append(v)
            inside = (w >= WEIGHT_IN).float()
            sides.append(inside.sum((-2, -1)).amax(1).sqrt())
            peak = (x.amax(2) * inside).sum((-2, -1)) / inside.sum((-2, -1)).clamp_min(1)
            shown.append(visible(f[..., 0], *w.shape[-2:]))
            bright.append(peak[shown[-1]])
        feats, seen, side = torch.cat(feats), torch.cat(seen), torch.cat(sides)
        shown, bright = torch.cat(shown), torch.cat(bright)
        self.brightness.fill_(float(bright.median()) if len(bright) else 0.0)
        # a glimpse's centroid is not the block's centre: the truth only where it is visible
        centres, target = (feats[..., 1:3], shown) if truth is None else truth
        # the split is read on the CPU; the fit runs where the model is
        dev = self.dynamics.cond_mean.device
        located = time.perf_counter() - start
        line = self.dynamics.fit(feats.to(dev), seen.to(dev), cond.float().to(dev),
                                 centres.float().to(dev), target.to(dev), side.to(dev), window,
                                 seed)
        return f"{line}; the clips' blocks located first ({located:.1f} s)"

    @torch.no_grad()
    def forward(self, context: Tensor, cond: Tensor, T: int, scene: Tensor,
                arm: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """The layer of a clip's T - 1 steps.

        Args:
            context: (B, n_past, 3, H, W) in [0, 1]. cond: (B, >= T, D). T: frames of the clip.
            scene: (3, H, W) in [0, 1], the empty scene (the frame memory's): where the context
                frame differs from it inside the block's predicted square but the block's colour
                is not seen, something (the arm) hides the block.
            arm: (B, n_past, 1, H, W) in [0, 1], the context frames' arm masks (the frame
                memory's nearest frames'), or None: inside the predicted square the arm hides
                the block also where it looks like the table (the gripper's light grey over
                the white table), so those pixels are hidden too.

        Returns:
            (rgb (B, T-1, 3, H, W) and alpha (B, T-1, 1, H, W) in [0, 1], step i's layer for its
            target frame i + 1 (alpha 0 for targets before the last context frame and where no
            context frame shows the block's colour at the dynamics' ``least``); erase (B, 1, 1,
            H, W) in [0, 1]: the block's region in the context frame, to be erased from the
            frame the step composites over).

        The region is the block's visible pixels grown by a pixel into the table, with their
        own colours, plus the part of the square that something hides, in the block's mean
        colour (for a block only glimpsed, at ``brightness`` where the glimpse is darker). It
        moves by the predicted centre's whole-pixel displacement (none below :data:`STAY`), so
        a block that stays is copied exactly and a moved one keeps sharp edges.
        """
        # positions to a fraction of a pixel: float32 even where the step runs under autocast
        with torch.autocast(context.device.type, enabled=False):
            return self._layer(context.float(), cond.float(), T, scene.float(),
                               None if arm is None else arm.float())

    def _layer(self, context: Tensor, cond: Tensor, T: int, scene: Tensor,
               arm: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """:meth:`forward`'s work, in float32."""
        B, n_past = context.shape[:2]
        H, W = context.shape[-2:]
        if arm is not None:
            arm = _last_context(arm, cond, T)[0]
        context, cond = _last_context(context, cond, T)
        read, weights, feats, seen, known, centres, side = self._predict(context, cond)
        known = known.to(read.dtype)[:, None, None, None]
        # the last context frame where the block is visible, else the last that gives a glimpse
        # of it: its pixels and region
        j = source_frame(feats, seen, (H, W))
        pick = torch.arange(len(read), device=read.device)
        frame, w = read[pick, j], weights[pick, j][:, None]          # (b, 3|1, H, W)
        colour = (frame * w).sum((-2, -1)) / w.sum((-2, -1)).clamp_min(1e-6)   # (b, 3)
        # a glimpse is mostly the block's shaded edge under the arm: the hidden part gets its
        # chroma at a visible block's usual brightness (the brighter of the two)
        glimpsed = ~visible(feats[pick, j, 0], H, W)[:, None]
        peak = colour.amax(1, keepdim=True).clamp_min(1e-6)
        lift = torch.where(glimpsed, (self.brightness / peak).clamp_min(1.0), torch.ones_like(peak))
        colour = (colour * lift).clamp(0.0, 1.0)
        differs = ((frame - scene.to(frame.dtype)).abs().amax(1, keepdim=True)
                   > HIDDEN_DIFF).to(frame.dtype)
        if arm is not None:
            differs = torch.maximum(differs, arm[:len(read)][pick, j])
        # the block's pixels grown by one into what shows the table, never into the arm
        region = torch.maximum(w, F.max_pool2d(w, 3, 1, 1) * (1 - differs))
        hidden = render(centres[:, :1], side, (H, W))[:, 0] * differs * (1 - region)
        alpha0 = torch.maximum(region, hidden) * known
        rgb0 = frame * region + colour[..., None, None] * hidden     # premultiplied by alpha0
        # un-premultiplied before the move (pixels move with their values: the same colours
        # as dividing after it)
        rgb0 = (rgb0 / alpha0.clamp_min(1e-6)).clamp(0, 1)
        rgb, alpha = translate(torch.cat([rgb0, alpha0], 1), _moved(centres)).split([3, 1], 2)
        erase = (region * known).expand(B, -1, -1, -1)[:, None]
        return _per_step(rgb, n_past, T), _per_step(alpha, n_past, T), erase

    def _predict(self, context: Tensor, cond: Tensor) -> tuple[Tensor, ...]:
        """The last :data:`CONTEXT` context frames (B, k, 3, H, W) and the conditions from the
        first of them (:func:`_last_context`) -> (the frames read (b, k, 3, H, W), their block
        weights (b, k, H, W), features (b, k, 7) (:func:`frame_features`), whether each frame
        is seen at the dynamics' ``least`` (b, k), whether the block is known (b,), the
        predicted centres (B, S, 2) pixels of the last context frame and those after it, side (B,)
        pixels); b is 1 where the batch repeats one context (an expanded view: a planner's
        candidate actions), which is read once, else B."""
        B, k = context.shape[0], CONTEXT
        read = context[:1] if B > 1 and context.stride(0) == 0 else context
        least = float(self.dynamics.least)
        locator = BlockLocator.read(read, least=least)
        weights = locator.weights(read)                              # (b, k, H, W)
        feats, seen = frame_features(weights, least)
        known = seen.any(1) & locator.found
        centres, side = self.dynamics(feats.expand(B, *feats.shape[1:]),
                                      seen.expand(B, *seen.shape[1:]), cond[:, :k], cond[:, k - 1:])
        return read, weights, feats, seen, known, centres, side

    @torch.no_grad()
    def centres(self, context: Tensor, cond: Tensor, T: int) -> Tensor:
        """Where the layer puts the block's centre in the frames it predicts.

        Args:
            context: (B, n_past, 3, H, W) in [0, 1]. cond: (B, >= T, D). T: frames of the clip.

        Returns:
            (B, T - n_past, 2) pixels, float32, for frames n_past .. T-1: the centre the
            dynamics predict for the last context frame, moved as the layer moves the block
            (whole pixels, none below :data:`STAY`); NaN where no context frame shows the
            block's colour at the dynamics' ``least``. The
            arm the head pastes over the layer may hide the block there; this is where it is.
        """
        with torch.autocast(context.device.type, enabled=False):
            last, c = _last_context(context.float(), cond.float(), T)
            _, _, _, _, known, centres, _ = self._predict(last, c)
        placed = centres[:, :1] + _moved(centres)
        known = known.expand(len(placed))[:, None, None]
        return torch.where(known, placed, torch.full_like(placed, float("nan")))[:, 1:]


def _moved(centres: Tensor) -> Tensor:
    """Predicted centres (B, S, 2) pixels -> the displacement (B, S, 2) the layer applies from
    the first: the fit's error is a fraction of a pixel, so a block predicted to move less than
    :data:`STAY` stays, copied exactly; :func:`translate` rounds the rest to whole pixels."""
    shift = centres - centres[:, :1]
    shift = torch.where(shift.norm(dim=-1, keepdim=True) < STAY, torch.zeros_like(shift), shift)
    return shift.round()


def _last_context(context: Tensor, cond: Tensor, T: int) -> tuple[Tensor, Tensor]:
    """The last :data:`CONTEXT` context frames (the one, repeated, with n_past 1) and the
    conditions (B, T', D) counted from the first of them (frames (B, n_past, c, H, W) of any
    channels c: the context's, or its arm masks)."""
    n_past = context.shape[1]
    context = context[:, -CONTEXT:].float()
    if context.shape[1] < CONTEXT:
        context = context[:, :1].expand(-1, CONTEXT, -1, -1, -1)
    first = n_past - CONTEXT
    cond = cond[:, max(first, 0):T].float()
    if first < 0:
        cond = torch.cat([cond[:, :1].expand(-1, -first, -1), cond], 1)
    return context, cond


def _per_step(x: Tensor, n_past: int, T: int) -> Tensor:
    """Layer images (B, S, c, H, W) of frames n_past - 1 .. T - 1 -> those of the T - 1 steps,
    step i's for its target frame i + 1 (zeros for context frames before the last)."""
    lead = n_past - 2
    if lead > 0:
        x = torch.cat([x.new_zeros(x.shape[0], lead, *x.shape[2:]), x], 1)
    elif lead < 0:
        x = x[:, -lead:]
    return x[:, :T - 1]


__all__ = ["BlockDynamics", "BlockLayer", "frame_features", "render", "translate"]
