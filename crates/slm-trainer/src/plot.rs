//! The loss-curve PNG: train loss per logged step and validation loss per evaluation.
//! Text is drawn with a committed font (DejaVu Sans Mono) so the plot renders the same on
//! machines without system fonts.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;

use crate::{MetricRecord, TrainError};

pub const PLOT_FILE: &str = "loss.png";

static FONT: &[u8] = include_bytes!("../assets/DejaVuSansMono.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The bytes are a valid TTF committed with the crate; failure would be a build bug.
        if plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            tracing::warn!("could not register the plot font; labels may be missing");
        }
    });
}

/// Draws `records` to `path` (PNG, 900×540).
pub fn plot_losses(records: &[MetricRecord], path: &Path) -> Result<(), TrainError> {
    register_font();
    let err = |e: String| TrainError::Plot {
        path: path.to_path_buf(),
        message: e,
    };
    let train: Vec<(f64, f64)> = records
        .iter()
        .filter_map(|r| match r {
            MetricRecord::Train { step, loss, .. } if loss.is_finite() => {
                Some((*step as f64, *loss))
            }
            _ => None,
        })
        .collect();
    let valid: Vec<(f64, f64)> = records
        .iter()
        .filter_map(|r| match r {
            MetricRecord::Eval { step, loss, .. } if loss.is_finite() => {
                Some((*step as f64, *loss))
            }
            _ => None,
        })
        .collect();
    let all = || train.iter().chain(valid.iter());
    let x_max = all().map(|p| p.0).fold(1.0, f64::max);
    let y_max = all().map(|p| p.1).fold(f64::MIN, f64::max);
    let y_min = all().map(|p| p.1).fold(f64::MAX, f64::min);
    let (y_min, y_max) = if y_min <= y_max {
        let pad = ((y_max - y_min) * 0.05).max(0.05);
        ((y_min - pad).max(0.0), y_max + pad)
    } else {
        (0.0, 1.0)
    };

    let root = BitMapBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption("slm training loss", ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, y_min..y_max)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("optimizer step")
        .y_desc("cross-entropy (nats/token)")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| err(e.to_string()))?;
    chart
        .draw_series(LineSeries::new(train.iter().copied(), &BLUE))
        .map_err(|e| err(e.to_string()))?
        .label("train")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .draw_series(LineSeries::new(
            valid.iter().copied(),
            ShapeStyle::from(&RED).stroke_width(2),
        ))
        .map_err(|e| err(e.to_string()))?
        .label("validation")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    chart
        .draw_series(valid.iter().map(|p| Circle::new(*p, 3, RED.filled())))
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_png_with_both_curves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loss.png");
        let mut records = Vec::new();
        for step in 1..=20u64 {
            records.push(MetricRecord::Train {
                step,
                tokens: step * 10,
                loss: 5.0 - step as f64 * 0.1,
                lr: 1e-3,
                grad_norm: 1.0,
                tokens_per_sec: 1.0,
                skipped: false,
                loss_scale: 1.0,
            });
        }
        records.push(MetricRecord::Eval {
            step: 20,
            tokens: 200,
            loss: 3.2,
            perplexity: 3.2f64.exp(),
            bits_per_byte: 1.0,
            eval_tokens: 10,
            eval_bytes: 40,
            samples: vec![],
        });
        plot_losses(&records, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        // Red (validation) and blue (train) pixels are both present: decode is not
        // available here, so check the file is substantially more than a blank canvas.
        assert!(bytes.len() > 5_000, "png is only {} bytes", bytes.len());
    }
}
