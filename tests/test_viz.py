import numpy as np
import torch
from PIL import Image

from vidpred.viz import CONTEXT_COLOUR, PREDICTED_COLOUR, save_prediction_gif


def test_gif_has_one_frame_per_time_step_and_marks_context_and_predictions(tmp_path):
    truth = torch.rand(6, 3, 64, 64)
    pred = torch.rand(6, 3, 64, 64)
    path = save_prediction_gif(tmp_path / "p.gif", truth, {"prediction": pred}, n_past=2, scale=2)
    gif = Image.open(path)
    assert gif.n_frames == 6
    tile = 64 * 2 + 2 * 2                     # scaled frame plus a 2-pixel border on each side
    assert gif.size == (2 * tile, tile + 14)
    def border_pixel(t):
        gif.seek(t)
        rgb = np.asarray(gif.convert("RGB"))
        return tuple(int(v) for v in rgb[14, tile])  # top-left corner of the prediction tile
    assert np.abs(np.subtract(border_pixel(1), CONTEXT_COLOUR)).max() < 40
    assert np.abs(np.subtract(border_pixel(2), PREDICTED_COLOUR)).max() < 40
    assert np.abs(np.subtract(border_pixel(5), PREDICTED_COLOUR)).max() < 40


def test_run_curves_plot_long_runs_with_smoothing(tmp_path):
    from vidpred.viz import plot_run_curves

    def run(offset):
        iters = [{"iteration": i, "loss": 0.01 + offset, "mse": 0.01, "kl": 0.1, "beta": 1e-4 * (i % 50) / 50,
                  "tfr": 1.0} for i in range(1, 1001)]
        epochs = [{"iteration": i, "val_psnr": 20 + i / 1000} for i in (250, 500, 750, 1000)]
        return iters, epochs

    path = plot_run_curves([("a", *run(0.0)), ("b", *run(0.01))], tmp_path / "c.png")
    assert Image.open(path).size[0] > 1000


def test_frame_grid_tiles_rows_and_evenly_spaced_steps():
    from vidpred.viz import frame_grid

    truth = torch.zeros(30, 3, 8, 16)
    pred = torch.ones(30, 3, 8, 16)
    grid = frame_grid({"truth": truth, "pred": pred}, max_columns=5, gap=2)
    assert grid.shape == (2 * 8 + 2, 5 * 16 + 4 * 2, 3) and grid.dtype == np.uint8
    assert (grid[:8, :16] == 0).all() and (grid[10:, :16] == 255).all()
    assert (grid[8:10] == 255).all()   # the white gap between the rows
