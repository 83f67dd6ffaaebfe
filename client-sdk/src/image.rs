//! Image outputs: a job whose output is one `u32` per pixel, rendered as a PNG: values as
//! 8-bit grayscale (e.g. the Mandelbrot example's escape counts), or colours (`r | g << 8 |
//! b << 16 | a << 24`, the ray tracer's pixels) as 8-bit RGBA.

use crate::error::{Result, SdkError};

/// Encodes `output` (`width × height` little-endian `u32`s, row-major) as a grayscale PNG,
/// scaling values so the largest becomes white.
pub fn u32_grayscale_png(output: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    check_size(output, width, height)?;
    let values: Vec<u32> = output
        .as_chunks::<4>()
        .0
        .iter()
        .map(|w| u32::from_le_bytes(*w))
        .collect();
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    let gray: Vec<u8> = values
        .iter()
        .map(|&v| (u64::from(v) * 255 / u64::from(max)) as u8)
        .collect();
    encode(&gray, width, height, png::ColorType::Grayscale)
}

/// Encodes `output` (`width × height` pixels of 4 bytes `r, g, b, a`, row-major: a `u32` per
/// pixel `r | g << 8 | b << 16 | a << 24`) as an RGBA PNG.
pub fn rgba_png(output: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    check_size(output, width, height)?;
    encode(output, width, height, png::ColorType::Rgba)
}

/// An 8-bit PNG of `pixels` in `color`.
fn encode(pixels: &[u8], width: u32, height: u32, color: png::ColorType) -> Result<Vec<u8>> {
    let mut png_bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png_bytes, width, height);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        let png_err = |e: png::EncodingError| SdkError::InvalidJob(format!("PNG encoding: {e}"));
        let mut writer = encoder.write_header().map_err(png_err)?;
        writer.write_image_data(pixels).map_err(png_err)?;
    }
    Ok(png_bytes)
}

/// An output of `width × height` pixels of 4 bytes each.
fn check_size(output: &[u8], width: u32, height: u32) -> Result<()> {
    let pixels = u64::from(width) * u64::from(height);
    if width == 0 || height == 0 || output.len() as u64 != pixels * 4 {
        return Err(SdkError::InvalidJob(format!(
            "an image of {width}x{height} pixels of 4 bytes needs {} bytes of output, the job has {}",
            pixels * 4,
            output.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_rejects_wrong_sizes() {
        let output: Vec<u8> = [0u32, 5, 10, 10]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let png_bytes = u32_grayscale_png(&output, 2, 2).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (2, 2));
        assert_eq!(&buf[..4], &[0, 127, 255, 255]);
        assert!(u32_grayscale_png(&output, 3, 2).is_err());
    }

    #[test]
    fn rgba_pixels_keep_their_colours() {
        let output = [255u8, 0, 0, 255, 0, 128, 255, 255];
        let png_bytes = rgba_png(&output, 2, 1).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        reader.next_frame(&mut buf).unwrap();
        assert_eq!(buf, output);
        assert!(rgba_png(&output, 1, 1).is_err());
    }
}
