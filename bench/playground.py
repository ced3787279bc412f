"""The playground's speed: epochs per second of wall time while the view redraws.

Plays the default playground (circle, features x1 x2, hidden layers [4, 2],
tanh, batch size 10, 250 training points) with its ipywidgets view attached
(no browser: the widgets' values are computed and set, as in a kernel) for a
few seconds, then prints epochs/s and frames/s.  Target (issue 17): at least
1,000 epochs/s while redrawing at least 10 frames/s, on 2 cores.

    python bench/playground.py [seconds] [dataset]
"""
import sys
import time

from nnext.playground import Playground


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    dataset = sys.argv[2] if len(sys.argv) > 2 else "circle"
    pg = Playground(dataset=dataset, seed=0)
    view = pg.view()
    frames = [0]
    draw = view._redraw

    def counted():
        draw()
        frames[0] += 1

    view._redraw = counted
    started = time.perf_counter()
    pg.play()
    time.sleep(seconds)
    pg.pause()
    paused = time.perf_counter()
    wall = paused - started
    print(f"playground {dataset}, layers {pg.layers}, batch {pg.batch_size}, {len(pg.y_train)} training points")
    print(f"{pg.epoch} epochs in {wall:.2f} s: {pg.epoch / wall:,.0f} epochs/s")
    print(f"{frames[0]} frames: {frames[0] / wall:.1f} frames/s")
    t = time.perf_counter()
    view.redraw()
    print(f"one frame alone: {1000 * (time.perf_counter() - t):.1f} ms")


if __name__ == "__main__":
    main()
