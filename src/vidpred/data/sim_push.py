"""Built-in robot-pushing videos: the MuJoCo Fetch push scene written in the processed BAIR layout.

The scene is the Fetch ``push.xml`` shipped in the ``gymnasium-robotics`` wheel, driven with plain
``mujoco`` (its own FetchPush env fails on mujoco >= 3.12). Control follows FetchPush: the mocap
target moves by 0.05 m x action[:3] per step, 20 substeps of 2 ms, fingers held closed. A scripted
policy either pushes the block about 15 cm toward a goal on the table or moves between random
points, with P-control plus low-pass noise, actions clipped to [-1, 1]. A share of the sequences
(``PushSpec.random_action_share``, 0 by default) is driven by random smooth actions instead: the
action distribution a planner samples from (:func:`smooth_noise`), so a model trained on them has
seen sequences like the ones it is asked to score. Each block gets a bright colour that none of
the scene's surfaces has (:func:`block_colour`), so the block can be told apart by colour
(:mod:`vidpred.vision`); with ``PushSpec.block_colours = "red"`` every block is red to magenta
(:func:`red_colour`), the planning episodes' default.

Output, in the BAIR layout read by :mod:`vidpred.data.bair`::

    <out>/{train,validate,test}/traj_<a>_to_<b>.tfrecords/<k>/0.png ... <T-1>.png   64x64 RGB
    <out>/.../<k>/actions.csv                 T rows x 4 (dx, dy, dz, gripper), no header
    <out>/.../<k>/endeffector_positions.csv   T rows x 3 (robot0:grip site, metres, world frame)
    <out>/.../<k>/objects.npz                 the block's and the arm's ground truth per frame,
                                              from MuJoCo's segmentation (:data:`OBJECT_ARRAYS`)

Row t of actions.csv is the action applied after frame t was rendered. Each sequence is seeded
from (seed, split, index) alone, so the output does not depend on the number of workers.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, SimulatorError, check_ranges
from ..rundir import Outputs, claim_output
from ..vision import MIN_SEPARATION, min_mass, scene_distance
from .gl import project, select_gl_backend
from .jobs import META_FILE, cached_dataset, mark_complete, run_jobs
from .objects import OBJECTS_FILE

# 2: block colours kept apart from the scene's (block_colour), objects.npz beside the frames
GENERATOR_VERSION = 2
SPLITS = ("train", "validate", "test")
GROUP_SIZE = 256  # sequences per traj_<a>_to_<b>.tfrecords folder, as in BAIR

N_SUBSTEPS = 20
ACTION_SCALE = 0.05            # metres of mocap motion per unit action (FetchPush)
TABLE_Z = 0.4                  # table top height in push.xml
CAMERA = dict(lookat=(1.3, 0.75, 0.42), distance=0.9, azimuth=155.0, elevation=-45.0)
WORKSPACE_LO = np.array([1.05, 0.45, TABLE_Z + 0.03])
WORKSPACE_HI = np.array([1.55, 1.05, TABLE_Z + 0.25])
NOISE_CORRELATION = 0.8        # step-to-step correlation of the random smooth actions
RANDOM_ACTION_STD = 0.7        # their spread (before clipping to [-1, 1])
# the lit faces of a block render about this much brighter than its colour, clipped at 1 (fitted
# to the rendered chroma of 60 blocks), which pulls a colour with two strong channels toward grey
LIT_GAIN = 1.4
# objects.npz: name -> (dtype, shape, meaning); T frames of H x W pixels
OBJECT_ARRAYS = {
    "block_mask": ("bool", "(T, H, W)", "pixels that show the block"),
    "arm_mask": ("bool", "(T, H, W)", "pixels that show the arm (the robot's bodies from the "
                 "shoulder to the fingers)"),
    "block_centre": ("float32", "(T, 2)", "the block's centre projected into the image, pixels "
                     "(x right, y down, pixel centres at +0.5)"),
    "block_visible": ("bool", "(T,)", "block_mask has at least vidpred.vision.min_mass(H, W) "
                      "pixels"),
    "block_rgb": ("float32", "(3,)", "the block's colour given to MuJoCo, RGB in [0, 1]"),
}


@dataclass(frozen=True)
class PushSpec:
    """What to generate. Changing any field invalidates a cached dataset."""

    train: int = 1000
    validate: int = 64
    test: int = 128
    seq_len: int = 30
    image_size: int = 64
    seed: int = 0
    block_half: float = 0.04
    version: int = GENERATOR_VERSION
    random_action_share: float = 0.0
    block_colours: str = "any"

    def __post_init__(self):
        """Raises ConfigError: a size or share out of range (named as the option)."""
        check_ranges(self, {"validate": "--val"}, train=(0, None), validate=(0, None),
                     test=(0, None), seq_len=(2, None), image_size=(8, None), seed=(0, None),
                     block_half=(0.005, 0.1), random_action_share=(0, 1))
        if self.block_colours not in BLOCK_COLOURS:
            raise ConfigError(f"block_colours must be one of {BLOCK_COLOURS}, got "
                              f"{self.block_colours!r}")

    def count(self, split: str) -> int:
        return getattr(self, split)

    def record(self) -> dict:
        """What ``vidpred_dataset.json`` records; ``random_action_share`` and ``block_colours``
        only when not their defaults, so datasets generated before they existed still match."""
        rec = asdict(self)
        if not self.random_action_share:
            del rec["random_action_share"]
        if self.block_colours == "any":
            del rec["block_colours"]
        return rec


def _assets_dir() -> Path:
    spec = importlib.util.find_spec("gymnasium_robotics")
    if spec is None or not spec.submodule_search_locations:
        raise SimulatorError("the push scene needs the Fetch assets from gymnasium-robotics: "
                             "pip install 'vidpred[sim]'")
    path = Path(spec.submodule_search_locations[0]) / "envs" / "assets" / "fetch"
    if not (path / "push.xml").exists():
        raise SimulatorError(f"{path / 'push.xml'} not found in the installed gymnasium-robotics")
    return path


class FetchPushScene:
    """The Fetch push scene with a renderer; one per process (renderers are not shareable)."""

    def __init__(self, image_size: int = 64, block_half: float = 0.04):
        import mujoco

        self.mj = mujoco
        self.m = m = mujoco.MjModel.from_xml_path(str(_assets_dir() / "push.xml"))
        self.d = d = mujoco.MjData(m)
        self.block_half = block_half
        for name, val in {"robot0:slide0": 0.405, "robot0:slide1": 0.48, "robot0:slide2": 0.0}.items():
            d.qpos[m.joint(name).qposadr[0]] = val
        self.obj_adr = m.joint("object0:joint").qposadr[0]
        d.qpos[self.obj_adr:self.obj_adr + 7] = [1.25, 0.53, 0.4, 1, 0, 0, 0]
        for i in range(m.neq):
            if int(m.eq_type[i]) == int(mujoco.mjtEq.mjEQ_WELD):
                m.eq_data[i, :7] = [0, 0, 0, 0, 0, 0, 1]
        mujoco.mj_forward(m, d)
        # FetchPush._env_setup: bring the gripper to its start pose over 10 control steps
        d.mocap_pos[0] = np.array([-0.498, 0.005, -0.431]) + d.site("robot0:grip").xpos
        d.mocap_quat[0] = [1, 0, 1, 0]
        for _ in range(10):
            mujoco.mj_step(m, d, nstep=N_SUBSTEPS)
        self.initial_grip = d.site("robot0:grip").xpos.copy()
        self.init_state = (d.qpos.copy(), d.qvel.copy(), d.mocap_pos.copy(), d.mocap_quat.copy())
        # cosmetics: hide the mocap cross-hair, enlarge the block and colour it per sequence
        m.geom_rgba[m.geom_bodyid == m.body("robot0:mocap").id, 3] = 0
        self.block = m.geom("object0").id
        m.geom_size[self.block] = block_half
        m.geom_matid[self.block] = -1
        self.fingers = [m.joint("robot0:l_gripper_finger_joint").qposadr[0],
                        m.joint("robot0:r_gripper_finger_joint").qposadr[0]]
        self.weld_body = int(m.eq_obj2id[0])
        # the arm: every geom of the bodies from the shoulder down (base, torso and head stay put)
        bodies = {m.body("robot0:shoulder_pan_link").id}
        for b in range(m.nbody):  # parents come before their children
            if int(m.body_parentid[b]) in bodies:
                bodies.add(b)
        self.arm_geoms = np.flatnonzero(np.isin(m.geom_bodyid, sorted(bodies)))
        self.position_actuators = [i for i in range(m.nu) if m.actuator_biastype[i] != 0]
        # fast, deterministic 64x64 rendering: no multisampling, shadows or reflections
        m.vis.quality.offsamples = 0
        self.renderer = mujoco.Renderer(m, image_size, image_size)
        self.camera = mujoco.MjvCamera()
        self.camera.lookat[:] = CAMERA["lookat"]
        self.camera.distance = CAMERA["distance"]
        self.camera.azimuth = CAMERA["azimuth"]
        self.camera.elevation = CAMERA["elevation"]
        self.option = mujoco.MjvOption()
        self.option.sitegroup[:] = 0

    def reset(self, block_xy: np.ndarray, rgb: np.ndarray) -> None:
        m, d = self.m, self.d
        self.mj.mj_resetData(m, d)
        qp, qv, mp_, mq = self.init_state
        d.qpos[:], d.qvel[:], d.mocap_pos[:], d.mocap_quat[:] = qp, qv, mp_, mq
        d.qpos[self.obj_adr:self.obj_adr + 3] = [block_xy[0], block_xy[1], TABLE_Z + self.block_half]
        m.geom_rgba[self.block] = [*rgb, 1.0]
        self.mj.mj_forward(m, d)

    def step(self, action: np.ndarray) -> None:
        m, d = self.m, self.d
        d.mocap_pos[0] = d.xpos[self.weld_body] + ACTION_SCALE * action[:3]
        d.mocap_quat[0] = d.xquat[self.weld_body] + np.array([1.0, 0.0, 1.0, 0.0])
        for i in self.position_actuators:  # hold the (blocked) fingers where they are
            d.ctrl[i] = d.qpos[m.jnt_qposadr[m.actuator_trnid[i, 0]]]
        self.mj.mj_step(m, d, nstep=N_SUBSTEPS)
        d.qpos[self.fingers] = 0.0
        self.mj.mj_forward(m, d)

    def hide_block(self) -> None:
        """Move the block 1 m below the floor, out of the camera's view (for a background image)."""
        self.d.qpos[self.obj_adr + 2] = -1.0
        self.mj.mj_forward(self.m, self.d)

    def get_state(self) -> np.ndarray:
        """The full simulation state (positions, velocities, mocap targets, warm start), to
        :meth:`set_state` back: a planner's what-if rollouts leave the episode untouched."""
        spec = self.mj.mjtState.mjSTATE_INTEGRATION
        state = np.empty(self.mj.mj_stateSize(self.m, spec))
        self.mj.mj_getState(self.m, self.d, state, spec)
        return state

    def set_state(self, state: np.ndarray) -> None:
        self.mj.mj_setState(self.m, self.d, state, self.mj.mjtState.mjSTATE_INTEGRATION)
        self.mj.mj_forward(self.m, self.d)

    def grip(self) -> np.ndarray:
        return self.d.site("robot0:grip").xpos.copy()

    def block_pos(self) -> np.ndarray:
        return self.d.site("object0").xpos.copy()

    def render(self) -> np.ndarray:
        r = self.renderer
        r.update_scene(self.d, self.camera, self.option)
        r.scene.flags[self.mj.mjtRndFlag.mjRND_SHADOW] = False
        r.scene.flags[self.mj.mjtRndFlag.mjRND_REFLECTION] = False
        return r.render().copy()

    def render_objects(self) -> tuple[np.ndarray, dict]:
        """:meth:`render`, and the ground truth of that frame from MuJoCo's segmentation
        rendering (the object and its type per pixel): ``block_mask``, ``arm_mask`` (H, W)
        bool and ``block_centre`` (2,) as in :data:`OBJECT_ARRAYS`."""
        frame = self.render()
        r = self.renderer
        r.enable_segmentation_rendering()
        try:
            seg = r.render()
        finally:
            r.disable_segmentation_rendering()
        geom = np.where(seg[..., 1] == int(self.mj.mjtObj.mjOBJ_GEOM), seg[..., 0], -1)
        return frame, {"block_mask": geom == self.block,
                       "arm_mask": np.isin(geom, self.arm_geoms),
                       "block_centre": project(r, self.block_pos()[None])[0]}

    def close(self) -> None:
        self.renderer.close()


BLOCK_COLOURS = ("any", "red")
OUTPUTS = Outputs("data push", ("train", "validate", "test", META_FILE))


def _bright_colour(rng: np.random.Generator) -> np.ndarray:
    rgb = rng.uniform(0.0, 1.0, 3)
    rgb[rng.integers(3)] = 1.0  # at least one saturated channel: visible against the table
    return rgb


def distinct_colour(rgb: np.ndarray) -> bool:
    """Whether a block of colour ``rgb`` (RGB in [0, 1]) keeps :data:`vidpred.vision.MIN_SEPARATION`
    from the scene's colours (:func:`vidpred.vision.scene_distance`) on its shaded faces (its
    chroma) and its lit ones (the chroma of min(:data:`LIT_GAIN` x rgb, 1))."""
    import torch

    lit = np.minimum(LIT_GAIN * np.asarray(rgb, np.float64), 1.0)
    c = torch.tensor(np.stack([rgb, lit]) / np.stack([rgb, lit]).sum(1, keepdims=True))
    return bool(scene_distance(c).min() >= MIN_SEPARATION)


def block_colour(rng: np.random.Generator, colours: str = "any",
                 redraw: np.random.Generator | None = None) -> np.ndarray:
    """A block's colour, RGB in [0, 1]: ``red`` (:func:`red_colour`) or ``any`` bright colour
    (one channel 1, the others uniform) that keeps apart from the scene's
    (:func:`distinct_colour`). Colours too close to the scene's (near white, the background's
    green, the arm's blue: about 2 draws in 3) are drawn again from ``redraw`` (default
    ``rng``), so that ``rng`` gives the same numbers after the colour whatever the colour."""
    if colours not in BLOCK_COLOURS:
        raise ValueError(f"block colours {colours!r}: choose one of {', '.join(BLOCK_COLOURS)}")
    if colours == "red":
        return red_colour(rng)
    rgb = _bright_colour(rng)
    while not distinct_colour(rgb):
        rgb = _bright_colour(rng if redraw is None else redraw)
    return rgb


def red_colour(rng: np.random.Generator) -> np.ndarray:
    """A red-to-magenta block (red channel 1, green and blue at most 0.3): one of the bright
    colours, and one that neither the white table, the green floor nor the blue and grey arm has,
    so the block can be told apart in frames by colour."""
    return np.array([1.0, *rng.uniform(0.0, 0.3, 2)])


def _waypoints(rng: np.random.Generator, block: np.ndarray, half: float) -> list:
    """The scripted policy's targets: push the block toward a goal, or wander."""
    low = TABLE_Z + 0.03
    if rng.random() < 0.7:
        angle = rng.uniform(0, 2 * np.pi)
        direction = np.array([np.cos(angle), np.sin(angle)])
        behind = block[:2] - direction * (half + 0.05)
        goal_stop = block[:2] + direction * (0.15 - half - 0.01)
        return [np.r_[behind, low + 0.12], np.r_[behind, low], np.r_[goal_stop, low],
                np.r_[goal_stop, low + 0.12]]
    return [rng.uniform(WORKSPACE_LO, WORKSPACE_HI) for _ in range(3)]


def smooth_noise(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Low-pass Gaussian noise along axis -2 (time): AR(1) with correlation
    :data:`NOISE_CORRELATION` and unit variance at every step.

    Args:
        shape: (..., T, D).

    Returns:
        float64 array of ``shape``.
    """
    n = rng.normal(size=shape)
    out = np.empty(shape)
    out[..., 0, :] = n[..., 0, :]
    keep = np.sqrt(1 - NOISE_CORRELATION ** 2)  # keeps the variance at 1
    for t in range(1, shape[-2]):
        out[..., t, :] = NOISE_CORRELATION * out[..., t - 1, :] + keep * n[..., t, :]
    return out


def keep_in_workspace(grip: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Shorten actions (..., 3) so the gripper at ``grip`` (..., 3) stays inside the workspace
    box (never into or off the table); returns actions in [-1, 1]."""
    nxt = np.clip(grip + ACTION_SCALE * a, WORKSPACE_LO, WORKSPACE_HI)
    return np.clip((nxt - grip) / ACTION_SCALE, -1.0, 1.0)


def start_block_xy(rng: np.random.Generator, grip: np.ndarray) -> np.ndarray:
    """Where a sequence's block starts: within 15 cm of the gripper in x and y, at least 10 cm
    from it."""
    while True:
        block_xy = grip[:2] + rng.uniform(-0.15, 0.15, 2)
        if np.linalg.norm(block_xy - grip[:2]) >= 0.1:
            return block_xy


@dataclass
class PushSequence:
    """One simulated sequence: ``frames`` uint8 (T, H, W, 3), ``actions`` float32 (T, 4),
    ``ee`` end-effector positions float32 (T, 3), ``objects`` the arrays of
    :data:`OBJECT_ARRAYS`."""

    frames: np.ndarray
    actions: np.ndarray
    ee: np.ndarray
    objects: dict


class _Recording:
    """A rollout's frames, ground truth, gripper positions and actions, step by step."""

    def __init__(self, scene: FetchPushScene, rgb: np.ndarray):
        self.scene, self.rgb = scene, rgb
        self.frames, self.objects, self.ee, self.actions = [], [], [], []

    def observe(self) -> np.ndarray:
        """Render the frame and its ground truth; return the gripper's position (3,)."""
        frame, objects = self.scene.render_objects()
        self.frames.append(frame)
        self.objects.append(objects)
        self.ee.append(self.scene.grip())
        return self.ee[-1]

    def act(self, action: np.ndarray) -> None:
        self.actions.append(action)
        self.scene.step(action)

    def result(self) -> PushSequence:
        frames = np.stack(self.frames)
        objects = {k: np.stack([o[k] for o in self.objects]) for k in self.objects[0]}
        objects["block_centre"] = objects["block_centre"].astype(np.float32)
        objects["block_visible"] = objects["block_mask"].sum((1, 2)) >= min_mass(*frames.shape[1:3])
        objects["block_rgb"] = np.asarray(self.rgb, np.float32)
        return PushSequence(frames, np.asarray(self.actions, np.float32),
                            np.asarray(self.ee, np.float32), objects)


def simulate_sequence(scene: FetchPushScene, seed_seq: np.random.SeedSequence, seq_len: int,
                      random_action_share: float = 0.0, block_colours: str = "any"
                      ) -> PushSequence:
    """Roll the policy out for ``seq_len`` frames: the scripted policy, or with probability
    ``random_action_share`` random smooth actions (``RANDOM_ACTION_STD`` x :func:`smooth_noise`).
    ``block_colours``: ``any`` or ``red`` (:func:`block_colour`; a colour drawn again comes
    from a stream of its own, so the motion is the same whatever the colour)."""
    rng = np.random.default_rng(seed_seq)
    block_xy = start_block_xy(rng, scene.initial_grip)
    redraw = np.random.default_rng(np.random.SeedSequence(seed_seq.entropy, spawn_key=(1,)))
    rgb = block_colour(rng, block_colours, redraw)
    scene.reset(block_xy, rgb)
    rec = _Recording(scene, rgb)
    # drawn only when used: with a share of 0 the sequences are those of earlier versions
    if random_action_share and rng.random() < random_action_share:
        return _random_sequence(rec, rng, seq_len)
    targets = _waypoints(rng, scene.block_pos(), scene.block_half)
    gain = rng.uniform(0.6, 1.0)
    noise = np.zeros(3)
    for _ in range(seq_len):
        grip = rec.observe()
        while len(targets) > 1 and np.linalg.norm(targets[0] - grip) < 0.02:
            targets.pop(0)
        noise = 0.8 * noise + 0.2 * rng.normal(0.0, 0.6, 3)
        a = np.clip(gain * (targets[0] - grip) / ACTION_SCALE + noise, -1.0, 1.0)
        a = keep_in_workspace(grip, a)
        rec.act(np.r_[a, rng.uniform(-1.0, 1.0)])  # the gripper value has no effect in push
    return rec.result()


def _random_sequence(rec: _Recording, rng: np.random.Generator, seq_len: int) -> PushSequence:
    """:func:`simulate_sequence` with random smooth actions (the gripper value stays random)."""
    moves = np.clip(RANDOM_ACTION_STD * smooth_noise(rng, (seq_len, 3)), -1.0, 1.0)
    for t in range(seq_len):
        grip = rec.observe()
        rec.act(np.r_[keep_in_workspace(grip, moves[t]), rng.uniform(-1.0, 1.0)])
    return rec.result()


def sequence_dir(root: Path, split: str, index: int) -> Path:
    g = index // GROUP_SIZE
    group = f"traj_{g * GROUP_SIZE}_to_{(g + 1) * GROUP_SIZE - 1}.tfrecords"
    return root / split / group / str(index % GROUP_SIZE)


def write_sequence(folder: Path, frames: np.ndarray, actions: np.ndarray, ee: np.ndarray,
                   objects: dict | None = None) -> None:
    """Write one sequence atomically: into ``<k>.partial`` and renamed when complete;
    ``objects`` (:data:`OBJECT_ARRAYS`), when given, to ``objects.npz`` (compressed)."""
    from PIL import Image

    tmp = folder.with_name(folder.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for t, f in enumerate(frames):
        Image.fromarray(f).save(tmp / f"{t}.png", compress_level=1)
    np.savetxt(tmp / "actions.csv", actions, delimiter=",", fmt="%.6f")
    np.savetxt(tmp / "endeffector_positions.csv", ee, delimiter=",", fmt="%.6f")
    if objects is not None:
        np.savez_compressed(tmp / OBJECTS_FILE, **objects)
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)


# ---- worker processes ---------------------------------------------------------------------
def _job(scene: FetchPushScene, args) -> str:
    root, split, index, seed, seq_len, random_share, colours = args
    seq = np.random.SeedSequence([seed, SPLITS.index(split), index])
    r = simulate_sequence(scene, seq, seq_len, random_share, colours)
    write_sequence(sequence_dir(Path(root), split, index), r.frames, r.actions, r.ee, r.objects)
    return split


def generate_push_dataset(out: str | Path, spec: PushSpec = PushSpec(), workers: int = 2,
                          progress: bool = True, log=print) -> Path:
    """Generate (or complete) the push dataset under ``out``.

    Sequences already written (their folder exists) are kept, so an interrupted run resumes.
    ``spec`` is recorded in the folder's marker (:func:`vidpred.rundir.claim_output`) before
    the first sequence is written, and in ``vidpred_dataset.json`` when the last one is; a
    folder started or finished with another spec is refused rather than mixed, and so is a
    folder of files vidpred did not write.

    Args:
        out: dataset root (created).
        spec: sizes, sequence length, image size, seed.
        workers: processes (each owns one renderer).

    Returns:
        The dataset root.

    Raises:
        SimulatorError: MuJoCo or its assets/OpenGL backend are unavailable.
        DataError: ``out`` holds a dataset generated with a different spec.
        ConfigError: ``out`` was started with a different spec, or holds other files.
    """
    out = Path(out)
    if cached_dataset(out, spec.record()):
        return out
    backend = select_gl_backend(log)
    # the settings are recorded before the first sequence: a re-run with others is refused
    claim_output(out, OUTPUTS, settings=spec.record(), log=log).add(*OUTPUTS.patterns)
    jobs = [(str(out), split, i, spec.seed, spec.seq_len, spec.random_action_share,
             spec.block_colours)
            for split in SPLITS for i in range(spec.count(split))
            if not sequence_dir(out, split, i).exists()]
    out.mkdir(parents=True, exist_ok=True)
    run_jobs(jobs, _job, FetchPushScene, (spec.image_size, spec.block_half), backend,
             workers, "generating push sequences", "seq", progress, chunksize=4)
    mark_complete(out, spec.record())
    return out
