from setuptools import find_packages, setup

RUNTIME = 'ai-edge-litert>=1.2; platform_machine != "armv7l"'

setup(
    name="edge-detect",
    version="0.1.0",
    description="Train, convert and run object detectors on Raspberry Pi and Coral boxes",
    python_requires=">=3.9",
    packages=find_packages(include=["edge", "edge.*", "train", "train.*", "convert", "convert.*"]),
    include_package_data=True,
    package_data={"edge": ["assets/*", "assets/default/*", "assets/coco/*"]},
    install_requires=[
        "numpy>=1.23",
        "opencv-python-headless>=4.8",
        "click>=8.1",
        "pyyaml>=6",
        "pydantic>=2.5",
        "paho-mqtt>=2.0",
        "flatbuffers>=23.5",
        "gpiozero>=2.0",
        "pillow>=9",
        RUNTIME,
    ],
    extras_require={
        # older Pi images (32-bit, Python <= 3.11)
        "tflite-runtime": ["tflite-runtime>=2.14"],
        "eval": ["pycocotools>=2.0.7", "matplotlib>=3.7"],
        # device, opt-in: the /metrics endpoint, and signed model packages
        "metrics": ["prometheus-client>=0.17"],
        "signing": ["cryptography>=41"],
        "train": ["tensorflow-cpu>=2.16", "tensorboard>=2.16", "pycocotools>=2.0.7", "matplotlib>=3.7",
                  "tqdm>=4.66"],
        "dev": ["pytest>=8", "hypothesis>=6", "ruff>=0.5", "jsonschema>=4", "pycocotools>=2.0.7",
                "matplotlib>=3.7", "tqdm>=4.66", "prometheus-client>=0.17", "cryptography>=41"],
    },
    entry_points={"console_scripts": ["edge=edge.cli:main"]},
)
