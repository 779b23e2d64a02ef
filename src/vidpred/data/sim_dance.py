"""Built-in pose-conditioned videos: a dancing MuJoCo humanoid written in the dance layout.

The body is gymnasium's ``envs/mujoco/assets/humanoid.xml``, posed kinematically (no physics):
each hinge joint follows rest pose + 3 harmonics of a random tempo (0.4-1.2 Hz) with random
amplitudes and phases, clipped to the joint's range; the root turns and sways slowly and is
lowered so that the lowest foot touches the floor. The label of a frame is its skeleton: 15
keypoints projected with the camera MuJoCo rendered with, 14 limbs drawn in OpenPose-style
colours on black (drawn at 2x and downscaled), in the same style whatever the scene.

Each dance has its own scene (``DanceSpec.scene``, see :mod:`vidpred.data.dance_scenes`):
``varied`` (the default) draws floor, lighting, camera distance and height, body size and colour
per dance; ``held-out`` does the same for training and validation but draws the test dances from
ranges that training never sees; ``fixed`` renders every dance in gymnasium's one scene with a
random body colour (datasets generated before scenes were varied).

Output, in the dance layout read by :mod:`vidpred.data.dance` (frames H x W RGB, default
64 x 128)::

    <out>/train/train_img/frame<k>.png   <out>/train/train_label/frame<k>.png
        ``train`` dances of ``train_len`` frames, numbered consecutively (k = 0 .. train*train_len-1)
    <out>/val/val_img/frame<k>.png       <out>/val/val_label/frame<k>.png      one dance, val_len frames
    <out>/test/test_img/<i>/frame0.png   only the first frame is given
    <out>/test/test_label/<i>/frame<k>.png   test_len labels
    <out>/test/test_gt/<i>/frame<k>.png      the ground-truth frames, for scoring rollouts
    <out>/test/test_gt/<i>/objects.npz       the dancer's ground truth (:data:`DANCER_ARRAYS`)

Every dance (motion and scene) is seeded from (seed, split, index) alone, so the output does
not depend on the number of worker processes.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, SimulatorError, check_ranges
from ..rundir import Outputs, claim_output
from .dance_scenes import (
    BODY_RGB,
    SCENE_KINDS,
    Scene,
    dance_scene,
    dance_seed,
    floor_materials,
)
from .gl import project, select_gl_backend
from .jobs import META_FILE, cached_dataset, mark_complete, run_jobs
from .objects import OBJECTS_FILE

GENERATOR_VERSION = 1
OUTPUTS = Outputs("data dance", ("train", "val", "test", ".progress", META_FILE))
LABEL_SUPERSAMPLE = 2

# keypoint -> (MuJoCo object kind, name) whose world position marks it
KEYPOINTS = {
    "head": ("geom", "head"), "neck": ("body", "torso"), "pelvis": ("body", "pelvis"),
    "r_sho": ("body", "right_upper_arm"), "r_elb": ("body", "right_lower_arm"),
    "r_hand": ("geom", "right_hand"), "l_sho": ("body", "left_upper_arm"),
    "l_elb": ("body", "left_lower_arm"), "l_hand": ("geom", "left_hand"),
    "r_hip": ("body", "right_thigh"), "r_knee": ("body", "right_shin"), "r_ank": ("body", "right_foot"),
    "l_hip": ("body", "left_thigh"), "l_knee": ("body", "left_shin"), "l_ank": ("body", "left_foot"),
}
# the 14 limbs and their OpenPose-style colours
LIMBS = [("head", "neck", (255, 0, 0)), ("neck", "pelvis", (255, 85, 0)),
         ("neck", "r_sho", (255, 170, 0)), ("r_sho", "r_elb", (255, 255, 0)),
         ("r_elb", "r_hand", (170, 255, 0)), ("neck", "l_sho", (85, 255, 0)),
         ("l_sho", "l_elb", (0, 255, 0)), ("l_elb", "l_hand", (0, 255, 85)),
         ("pelvis", "r_hip", (0, 255, 170)), ("r_hip", "r_knee", (0, 255, 255)),
         ("r_knee", "r_ank", (0, 170, 255)), ("pelvis", "l_hip", (0, 85, 255)),
         ("l_hip", "l_knee", (0, 0, 255)), ("l_knee", "l_ank", (85, 0, 255))]
CAMERA = dict(lookat=(0.0, 0.0, 0.85), distance=2.7, azimuth=180.0, elevation=-8.0)  # fixed scene
# test_gt/<i>/objects.npz: name -> (dtype, shape, meaning); T frames of H x W pixels
DANCER_ARRAYS = {
    "dancer_mask": ("bool", "(T, H, W)", "pixels that show the dancer (MuJoCo's segmentation)"),
    "background": ("uint8", "(H, W, 3)", "the scene without the dancer (the camera, floor and "
                   "light stay put during a dance, and nothing casts a shadow)"),
}


@dataclass(frozen=True)
class DanceSpec:
    """What to generate. Changing any field invalidates a cached dataset.

    Attributes:
        train: training dances; train_len: frames per training dance (a multiple of the
            16-frame training clip keeps clips inside one dance).
        val_len: frames of the one validation dance (the course uses 630).
        test: test dances; test_len: labels per test dance (630: frame 0 + 629 to predict).
        height, width: rendered frame size in pixels (the dataset resizes, default to 32 x 64).
        fps: frames per second of the dance time axis.
        seed: same seed, same dataset.
        scene: ``varied``, ``held-out`` or ``fixed`` (see the module doc). A fixed-scene
            dataset records the same settings as one generated before scenes were varied, so
            such a dataset is reused rather than refused.
    """

    train: int = 40
    train_len: int = 160
    val_len: int = 630
    test: int = 5
    test_len: int = 630
    height: int = 64
    width: int = 128
    fps: float = 15.0
    seed: int = 0
    version: int = GENERATOR_VERSION
    scene: str = "varied"

    def __post_init__(self):
        """Raises ConfigError: a size out of range (named as the option); DataError: an
        unknown scene kind."""
        if self.scene not in SCENE_KINDS:
            raise DataError(f"dance generator: scene {self.scene!r} is not one of "
                            f"{', '.join(SCENE_KINDS)}")
        check_ranges(self, train=(1, None), train_len=(2, None), val_len=(2, None),
                     test=(0, None), test_len=(2, None), height=(8, None), width=(8, None),
                     fps=(1e-3, None), seed=(0, None))


def spec_record(spec: DanceSpec) -> dict:
    """The settings written to (and compared with) a dataset's ``vidpred_dataset.json``."""
    record = asdict(spec)
    if spec.scene == "fixed":
        del record["scene"]  # the record of the datasets generated before scenes were varied
    return record


def humanoid_xml() -> Path:
    """Path of gymnasium's ``humanoid.xml``. Raises SimulatorError when gymnasium is missing."""
    spec = importlib.util.find_spec("gymnasium")
    if spec is None or not spec.submodule_search_locations:
        raise SimulatorError("the dance generator needs the humanoid model shipped in gymnasium: "
                             "pip install 'vidpred[sim]'")
    path = Path(spec.submodule_search_locations[0]) / "envs" / "mujoco" / "assets" / "humanoid.xml"
    if not path.exists():
        raise SimulatorError(f"{path} not found in the installed gymnasium")
    return path


def _with_floor_materials(xml: str) -> str:
    """The humanoid's MJCF with one floor material per (style, contrast, tile) a scene can draw.

    The floor's colour is its geom colour (MuJoCo multiplies the texture by it), so the
    textures are white with dark tiles or lines; a material's tile size is fixed once the
    renderer has uploaded it, hence a material per tile size.
    """
    root = ET.fromstring(xml)
    asset = root.find("asset")
    surface = dict(reflectance="0.5", shininess="1", specular="1")  # as gymnasium's floor
    textures = set()
    for style, contrast, tile in floor_materials():
        name = f"floor_{style}_{contrast:g}"
        if style == "plain":
            ET.SubElement(asset, "material", name=name, **surface)
            continue
        dark = " ".join([f"{1 - contrast:g}"] * 3)
        if name not in textures:
            textures.add(name)
            if style == "checker":
                ET.SubElement(asset, "texture", name=name, type="2d", builtin="checker",
                              rgb1="1 1 1", rgb2=dark, width="64", height="64")
            else:  # grid: dark lines on the tile edges
                ET.SubElement(asset, "texture", name=name, type="2d", builtin="flat",
                              rgb1="1 1 1", mark="edge", markrgb=dark, width="32", height="32")
        # with texuniform, texrepeat counts texture repeats per metre; a checker texture
        # holds 2 x 2 tiles, a grid texture one
        repeat = 1.0 / (tile * (2 if style == "checker" else 1))
        ET.SubElement(asset, "material", name=f"{name}_{tile:g}", texture=name,
                      texuniform="true", texrepeat=f"{repeat:g} {repeat:g}", **surface)
    return ET.tostring(root, encoding="unicode")


def _floor_material_name(scene: Scene) -> str:
    name = f"floor_{scene.floor}_{scene.contrast:g}"
    return name if scene.floor == "plain" else f"{name}_{scene.tile:g}"


class HumanoidScene:
    """The humanoid, a renderer and the skeleton drawer; one per process. One compiled model
    serves every scene: :meth:`set_scene` changes model fields (floor material and colour,
    light, body geometry) and the free camera."""

    def __init__(self, height: int = 64, width: int = 128):
        import mujoco

        self.mj = mujoco
        xml = _with_floor_materials(humanoid_xml().read_text())
        self.m = m = mujoco.MjModel.from_xml_string(xml)
        self.d = mujoco.MjData(m)
        self.height, self.width = height, width
        m.vis.quality.offsamples = 0
        m.vis.global_.offwidth = max(m.vis.global_.offwidth, width)
        m.vis.global_.offheight = max(m.vis.global_.offheight, height)
        self.renderer = mujoco.Renderer(m, height, width)
        self.camera = mujoco.MjvCamera()
        self.camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        self.hinges = [j for j in range(m.njnt) if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE]
        self.lo, self.hi = m.jnt_range[self.hinges, 0], m.jnt_range[self.hinges, 1]
        self.qadr = m.jnt_qposadr[self.hinges]
        names = [m.joint(j).name for j in self.hinges]
        self.is_arm = np.array(["shoulder" in n or "elbow" in n for n in names])
        self.is_knee = np.array(["knee" in n for n in names])
        self.feet = [m.geom("right_foot").id, m.geom("left_foot").id]
        self.body_geoms = m.geom_bodyid > 0
        m.geom_matid[self.body_geoms] = -1
        self.floor = m.geom("floor").id
        # the fixed scene's values, restored by set_scene(None); body geometry at scale 1
        self._fixed = dict(
            floor_matid=int(m.geom_matid[self.floor]), floor_rgba=m.geom_rgba[self.floor].copy(),
            light_dir=m.light_dir[0].copy(), light_diffuse=m.light_diffuse[0].copy(),
            ambient=m.vis.headlight.ambient.copy(), body_pos=m.body_pos.copy(),
            geom_pos=m.geom_pos.copy(), geom_size=m.geom_size.copy(), jnt_pos=m.jnt_pos.copy())
        self.set_scene(None)

    def set_scene(self, scene: Scene | None) -> None:
        """Draw the following frames in ``scene`` (None: the fixed scene). The body colour is
        set by :meth:`dance`."""
        m, f = self.m, self._fixed
        s = 1.0 if scene is None else scene.body_scale
        # a uniformly scaled body: every offset of the kinematic tree and every geom size;
        # the root's position comes from its free joint, and set_pose puts the feet on the floor
        m.body_pos[:] = f["body_pos"] * s
        m.jnt_pos[:] = f["jnt_pos"] * s
        m.geom_pos[self.body_geoms] = f["geom_pos"][self.body_geoms] * s
        m.geom_size[self.body_geoms] = f["geom_size"][self.body_geoms] * s
        cam = self.camera
        cam.azimuth = CAMERA["azimuth"]
        if scene is None:
            m.geom_matid[self.floor] = f["floor_matid"]
            m.geom_rgba[self.floor] = f["floor_rgba"]
            m.light_dir[0], m.light_diffuse[0] = f["light_dir"], f["light_diffuse"]
            m.vis.headlight.ambient[:] = f["ambient"]
            cam.lookat[:] = CAMERA["lookat"]
            cam.distance, cam.elevation = CAMERA["distance"], CAMERA["elevation"]
            return
        m.geom_matid[self.floor] = m.material(_floor_material_name(scene)).id
        m.geom_rgba[self.floor] = (*scene.floor_rgb, 1.0)
        az, el = np.radians(scene.light_azimuth), np.radians(scene.light_elevation)
        m.light_dir[0] = -np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
        m.light_diffuse[0] = scene.light_diffuse
        m.vis.headlight.ambient[:] = scene.ambient
        # look at the body's middle (scaled with the body) from the scene's distance and height
        lookat_z = CAMERA["lookat"][2] * s
        cam.lookat[:] = (0.0, 0.0, lookat_z)
        cam.distance = scene.camera_distance
        rise = np.clip((scene.camera_height - lookat_z) / scene.camera_distance, -1.0, 1.0)
        cam.elevation = -float(np.degrees(np.arcsin(rise)))

    def trajectory(self, rng: np.random.Generator, n_frames: int, fps: float):
        """Joint angles (T, J), root yaw (T,) and sideways sway (T,) of one random dance."""
        t = np.arange(n_frames) / fps
        f0 = rng.uniform(0.4, 1.2)  # tempo, Hz
        lo, hi, arm = self.lo, self.hi, self.is_arm
        rest = np.where(self.is_knee, -0.3, 0.0)
        centre = np.clip(rest + rng.normal(0, 0.08, len(lo)) * (hi - lo) * np.where(arm, 2.0, 1.0),
                         lo, hi)
        q = np.tile(centre, (n_frames, 1))
        scale = np.where(arm, 0.35, 0.15)  # arms move a lot, legs and torso less
        for k in (1, 2, 3):
            amp = (hi - lo) * rng.uniform(0, scale / k, len(lo))
            phase = rng.uniform(0, 2 * np.pi, len(lo))
            q += amp * np.sin(2 * np.pi * k * f0 * t[:, None] + phase)
        q = np.clip(q, lo, hi)
        yaw = rng.uniform(-0.6, 0.6) + rng.uniform(-0.4, 0.4) * np.sin(np.pi * f0 * t)
        sway = 0.15 * np.sin(2 * np.pi * f0 * t + rng.uniform(0, 2 * np.pi))
        return q, yaw, sway

    def set_pose(self, q: np.ndarray, yaw: float, sway: float) -> None:
        m, d, mj = self.m, self.d, self.mj
        d.qpos[:] = m.qpos0
        d.qpos[self.qadr] = q
        d.qpos[0:3] = [0.0, sway, 1.4]
        d.qpos[3:7] = [np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)]
        mj.mj_kinematics(m, d)
        lowest = min(d.geom_xpos[g][2] - m.geom_size[g][0] for g in self.feet)
        d.qpos[2] -= lowest  # the lowest foot touches the floor
        mj.mj_forward(m, d)

    def render(self) -> np.ndarray:
        r = self.renderer
        r.update_scene(self.d, camera=self.camera)
        r.scene.flags[self.mj.mjtRndFlag.mjRND_SHADOW] = False
        r.scene.flags[self.mj.mjtRndFlag.mjRND_REFLECTION] = False
        return r.render().copy()

    def keypoints_2d(self) -> np.ndarray:
        """(15, 2) pixel coordinates (u right, v down) of the keypoints, projected with the
        camera of the last :meth:`render` (:func:`vidpred.data.gl.project`): its stereo pair's
        left camera, 3.4 cm left of the one the frames are rendered through, which shifts the
        skeleton by about a pixel to the right; kept so that the labels stay those of the
        datasets generated so far."""
        d = self.d
        world = np.array([d.geom(name).xpos if kind == "geom" else d.body(name).xpos
                          for kind, name in KEYPOINTS.values()])
        return project(self.renderer, world, eye=0)

    def draw_label(self, uv: np.ndarray) -> np.ndarray:
        """The skeleton image (H, W, 3) uint8 for keypoints ``uv`` (15, 2)."""
        from PIL import Image, ImageDraw

        s = LABEL_SUPERSAMPLE
        img = Image.new("RGB", (self.width * s, self.height * s), (0, 0, 0))
        draw = ImageDraw.Draw(img)
        index = {k: i for i, k in enumerate(KEYPOINTS)}
        line = max(1, round(s * self.height / 20))
        for a, b, colour in LIMBS:
            draw.line([tuple(uv[index[a]] * s), tuple(uv[index[b]] * s)], fill=colour, width=line)
        r = line * 0.6
        for p in uv * s:
            draw.ellipse([p[0] - r, p[1] - r, p[0] + r, p[1] + r], fill=(255, 255, 255))
        return np.asarray(img.resize((self.width, self.height), Image.BILINEAR))

    def dancer_mask(self) -> np.ndarray:
        """(H, W) bool: where the last :meth:`render` shows the body, from MuJoCo's
        segmentation rendering (the geom and its type per pixel)."""
        r = self.renderer
        r.enable_segmentation_rendering()
        try:
            seg = r.render()
        finally:
            r.disable_segmentation_rendering()
        geom = np.where(seg[..., 1] == int(self.mj.mjtObj.mjOBJ_GEOM), seg[..., 0], -1)
        return self.body_geoms[geom] & (geom >= 0)

    def background(self) -> np.ndarray:
        """The scene without the body (moved 100 m below the floor), (H, W, 3) uint8."""
        self.d.qpos[2] -= 100.0
        self.mj.mj_forward(self.m, self.d)
        return self.render()

    def dance(self, seed_seq: np.random.SeedSequence, n_frames: int, fps: float,
              scene: Scene | None = None, truth: bool = False):
        """Render one dance in ``scene`` (None: the fixed scene, with a body colour drawn from
        ``seed_seq`` after the motion): frames and labels, both uint8 (T, H, W, 3), and with
        ``truth`` the arrays of :data:`DANCER_ARRAYS` (else None)."""
        rng = np.random.default_rng(seed_seq)
        q, yaw, sway = self.trajectory(rng, n_frames, fps)
        fixed_colour = rng.uniform(*BODY_RGB, 3)
        self.set_scene(scene)
        self.m.geom_rgba[self.body_geoms, :3] = fixed_colour if scene is None else scene.body_rgb
        frames = np.empty((n_frames, self.height, self.width, 3), np.uint8)
        labels = np.empty_like(frames)
        masks = np.zeros((n_frames, self.height, self.width), bool) if truth else None
        for t in range(n_frames):
            self.set_pose(q[t], yaw[t], sway[t])
            frames[t] = self.render()
            labels[t] = self.draw_label(self.keypoints_2d())
            if truth:
                masks[t] = self.dancer_mask()
        if not truth:
            return frames, labels, None
        return frames, labels, {"dancer_mask": masks, "background": self.background()}

    def close(self) -> None:
        self.renderer.close()


def _write_pngs(folder: Path, images: np.ndarray, first_number: int) -> None:
    """Write ``frame<n>.png`` files, each via a temporary name and a rename."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for t, img in enumerate(images):
        final = folder / f"frame{first_number + t}.png"
        tmp = folder / f".frame{first_number + t}.png.partial"
        Image.fromarray(img).save(tmp, format="PNG", compress_level=1)
        os.replace(tmp, final)


def _jobs(spec: DanceSpec) -> list[tuple[str, int]]:
    return ([("train", i) for i in range(spec.train)] + [("val", 0)]
            + [("test", i) for i in range(spec.test)])


def _write_job(root: Path, spec: DanceSpec, split: str, index: int,
               frames: np.ndarray, labels: np.ndarray, truth: dict | None = None) -> None:
    if split == "train":
        first = index * spec.train_len
        _write_pngs(root / "train" / "train_img", frames, first)
        _write_pngs(root / "train" / "train_label", labels, first)
    elif split == "val":
        _write_pngs(root / "val" / "val_img", frames, 0)
        _write_pngs(root / "val" / "val_label", labels, 0)
    else:
        _write_pngs(root / "test" / "test_img" / str(index), frames[:1], 0)
        _write_pngs(root / "test" / "test_label" / str(index), labels, 0)
        _write_pngs(root / "test" / "test_gt" / str(index), frames, 0)
        tmp = root / "test" / "test_gt" / str(index) / ".objects.partial.npz"
        np.savez_compressed(tmp, **truth)
        os.replace(tmp, tmp.with_name(OBJECTS_FILE))


def _progress_marker(root: Path, split: str, index: int) -> Path:
    return root / ".progress" / f"{split}_{index}.done"


# ---- worker processes ---------------------------------------------------------------------
def _job(humanoid: HumanoidScene, args) -> str:
    root, spec_dict, split, index = args
    spec = DanceSpec(**spec_dict)
    n = {"train": spec.train_len, "val": spec.val_len, "test": spec.test_len}[split]
    frames, labels, truth = humanoid.dance(dance_seed(spec.seed, split, index), n, spec.fps,
                                           dance_scene(spec.seed, split, index, spec.scene),
                                           truth=split == "test")
    root = Path(root)
    _write_job(root, spec, split, index, frames, labels, truth)
    _progress_marker(root, split, index).touch()
    return split


def generate_dance_dataset(out: str | Path, spec: DanceSpec = DanceSpec(), workers: int = 2,
                           progress: bool = True, log=print) -> Path:
    """Generate (or complete) the dance dataset under ``out``.

    Dances already written are kept, so an interrupted run resumes. The spec is recorded in
    the folder's marker (:func:`vidpred.rundir.claim_output`) before the first dance and in
    ``vidpred_dataset.json`` after the last; a folder started or finished with another spec is
    refused, and so is a folder of files vidpred did not write.

    Returns:
        The dataset root.

    Raises:
        SimulatorError: MuJoCo, gymnasium's humanoid or an OpenGL backend is unavailable.
        DataError: ``out`` holds a dataset generated with different settings.
        ConfigError: ``out`` was started with different settings, or holds other files.
    """
    out = Path(out)
    if cached_dataset(out, spec_record(spec)):
        return out
    spec_dict = asdict(spec)
    humanoid_xml()
    backend = select_gl_backend(log)
    # the settings are recorded before the first dance: a re-run with others is refused
    claim_output(out, OUTPUTS, settings=spec_record(spec), log=log).add(*OUTPUTS.patterns)
    (out / ".progress").mkdir(parents=True, exist_ok=True)
    n_frames = {"train": spec.train_len, "val": spec.val_len, "test": spec.test_len}
    # the long dances first, so that the workers finish together
    jobs = sorted(((str(out), spec_dict, split, i) for split, i in _jobs(spec)
                   if not _progress_marker(out, split, i).exists()),
                  key=lambda j: -n_frames[j[2]])
    run_jobs(jobs, _job, HumanoidScene, (spec.height, spec.width), backend,
             workers, "generating dances", "dance", progress)
    mark_complete(out, spec_record(spec))
    shutil.rmtree(out / ".progress", ignore_errors=True)
    return out
