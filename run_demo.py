"""Real-time monocular 3D human pose demo. `python run_demo.py --help` lists every option;
the README's main job: python run_demo.py --source ../shared/media/sports2d_demo.mp4
--viewer none --export out/demo --render-video --max-frames 120"""
import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
