"""numpy -> pictures: colormaps, normalisation, tiling (RGBA), charts (SVG). Knows nothing about models."""
from .bars import bar_chart_svg, histogram_svg
from .channels import (
    ChannelGrid, channel_grid, channel_maps, channel_picture, channel_range, flat_tiles_note, rgb_grid,
)
from .heatmap import SIGNS, blend, heatmap_rgba, image_rgba, overlay_maps
from .colormap import apply_cmap, lut
from .plane import difference_rgba, magnitude_rgba, neuron_grid, plane_rgba
from .normalize import NORMALIZATIONS, scale01, scale_channels
from .tiling import TileLayout, fit_factor, tile, upscale
from .legend import Scale, fmt, legend_html
from .examples import box_marks, display_images, example_grid
from .concept_maps import axis_overlays, pale

__all__ = [
    "flat_tiles_note",
    "difference_rgba",
    "magnitude_rgba",
    "neuron_grid",
    "plane_rgba",
    "SIGNS",
    "blend",
    "heatmap_rgba",
    "image_rgba",
    "overlay_maps",
    "ChannelGrid",
    "bar_chart_svg",
    "histogram_svg",
    "channel_grid",
    "channel_maps",
    "channel_picture",
    "channel_range",
    "NORMALIZATIONS",
    "TileLayout",
    "apply_cmap",
    "fit_factor",
    "lut",
    "rgb_grid",
    "scale01",
    "scale_channels",
    "tile",
    "upscale",
    "Scale",
    "fmt",
    "legend_html",
    "box_marks",
    "display_images",
    "example_grid",
    "axis_overlays",
    "pale",
]
