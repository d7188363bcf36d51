"""``ingot image build-test``: a tiny bootable disk image that proves a deploy worked."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, help="Disk images.")
console = Console(stderr=True)


@app.command("build-test")
def build_test(
    output: Path = typer.Option(..., "-o", "--output", help="Raw image file to write."),
    size_mb: int = typer.Option(64, "--size-mb", help="Image size in MiB."),
    kernel: Path = typer.Option(
        None, "--kernel", help="vmlinuz to boot (default: Debian's, fetched with apt-get)."
    ),
    cache_dir: Path = typer.Option(
        Path("~/.cache/ingot/ramdisk"), "--cache-dir", help="Where the kernel .deb is cached."
    ),
    uefi: bool = typer.Option(True, "--uefi/--no-uefi", help="Also make it UEFI-bootable."),
) -> None:
    """Build a whole-disk image (MBR + FAT: BIOS via syslinux, UEFI via GRUB) whose first boot
    reads the config drive and prints ``INGOT-BOOTED hostname=<h>`` on the serial console."""
    from ingot.images.build_test import TestImageSpec, build_test_image

    result = build_test_image(
        TestImageSpec(size_mb=size_mb, kernel=kernel, uefi=uefi),
        output,
        cache_dir=cache_dir.expanduser(),
    )
    console.print(f"[bold]test image[/bold] {result.path} ({result.size} bytes)")
    typer.echo(f"image_source=file://{result.path.resolve()}")
    typer.echo(f"image_checksum={result.sha256}")
