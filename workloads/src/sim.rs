//! An iterative integer simulation: heat diffusion on a 2D grid, hundreds of passes in one job.
//!
//! Each cell holds a non-negative amount of heat (an `i32`, at most [`MAX_HEAT`]). One step
//! moves, between every pair of edge-adjacent cells, an eighth of their difference, truncated
//! towards zero, from the hotter to the colder:
//!
//! ```text
//! u'[x,y] = u[x,y] + Σ over neighbours n of (u[n] − u[x,y]) / 8        (integer division)
//! ```
//!
//! Cells on the border simply have fewer neighbours (reflecting, insulated boundaries). Because
//! truncation towards zero is odd (`(-d) / 8 == -(d / 8)`), what one cell gains its neighbour
//! loses to the unit: total heat is conserved exactly, and no cell leaves the range of the
//! initial values (four eighths at most move out of a cell per step).
//!
//! ## The job (a manifest, job ABI v2)
//!
//! * one scratch buffer of `2 × width × height` `i32`s: two grids, ping-ponged;
//! * pass `init` (once): copies the input grid into the first half;
//! * pass `diffuse` (`repeat = steps`): dispatch `i` reads half `i mod 2` and writes the other;
//! * pass `finish` (once, `args[0] = steps`): copies half `steps mod 2` to the output;
//! * every pass is `@workgroup_size(8, 8)` over `ceil(width / 8) × ceil(height / 8)` workgroups;
//! * params (little-endian `u32`s): `width, height, 0, …`;
//! * input and output: the grid, row by row, little-endian `i32`s (`width × height × 4` bytes).

use compute_market_job::{JobDescriptor, Manifest, Pass, MAX_DISPATCHES, PARAMS_LEN};

/// The WGSL module of the simulation's passes.
pub const SHADER: &str = include_str!("sim.wgsl");

/// The shader's `@workgroup_size` (square).
pub const WORKGROUP_SIDE: u32 = 8;
/// Largest grid side, in cells.
pub const MAX_SIDE: u32 = 4096;
/// Most heat in one cell (differences of two cells then always fit in an `i32`).
pub const MAX_HEAT: i32 = i32::MAX;
/// Most steps in one job: the ABI's dispatch limit less the `init` and `finish` passes.
pub const MAX_STEPS: u32 = MAX_DISPATCHES as u32 - 2;
/// Steps of the demo job.
pub const DEFAULT_STEPS: u32 = 500;

/// What is wrong with a grid or a step count.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The grid is empty or larger than [`MAX_SIDE`] on a side.
    #[error("grid size {width}x{height} is not within 1..={MAX_SIDE} on each side")]
    GridSize {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
    /// The cells do not number `width × height`.
    #[error("{len} cells for a {width}x{height} grid")]
    CellCount {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
        /// Cells given.
        len: usize,
    },
    /// A cell's heat is negative.
    #[error("cell {index} holds {value}; heat must be in 0..={MAX_HEAT}")]
    Heat {
        /// Index of the cell, row by row.
        index: usize,
        /// Its value.
        value: i32,
    },
    /// The step count is zero or above [`MAX_STEPS`].
    #[error("{steps} steps; must be in 1..={MAX_STEPS}")]
    Steps {
        /// Steps asked for.
        steps: u32,
    },
}

/// A grid of heat values, row by row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grid {
    /// Cells per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// `width × height` values in `0..=MAX_HEAT`, row by row.
    pub cells: Vec<i32>,
}

impl Grid {
    /// A cold grid.
    pub fn zeros(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            cells: vec![0; width as usize * height as usize],
        }
    }

    /// The demo start: a hot square, a warm bar and a very hot point on a cold plate.
    pub fn demo(width: u32, height: u32) -> Self {
        let mut grid = Self::zeros(width, height);
        let (w, h) = (width as usize, height as usize);
        for y in h / 4..h / 4 + h / 6 {
            for x in w / 5..w / 5 + w / 6 {
                grid.cells[y * w + x] = 1_000_000;
            }
        }
        for y in h / 8..h - h / 8 {
            grid.cells[y * w + w * 3 / 4] = 400_000;
        }
        grid.cells[(h * 2 / 3) * w + w / 2] = 50_000_000;
        grid
    }

    /// The grid a job's output describes (`width × height` little-endian `i32`s).
    pub fn from_bytes(width: u32, height: u32, bytes: &[u8]) -> Result<Self, Error> {
        if !bytes.len().is_multiple_of(4) {
            return Err(Error::CellCount {
                width,
                height,
                len: bytes.len().div_ceil(4),
            });
        }
        let grid = Self {
            width,
            height,
            cells: bytes
                .as_chunks::<4>()
                .0
                .iter()
                .map(|&c| i32::from_le_bytes(c))
                .collect(),
        };
        grid.check()?;
        Ok(grid)
    }

    /// The cells as bytes: the job's input, and the shape of its output.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.cells.iter().flat_map(|c| c.to_le_bytes()).collect()
    }

    /// Heat in the whole grid.
    pub fn total(&self) -> i64 {
        self.cells.iter().map(|&c| i64::from(c)).sum()
    }

    /// Checks the size, the cell count and every cell's heat.
    pub fn check(&self) -> Result<(), Error> {
        if !(1..=MAX_SIDE).contains(&self.width) || !(1..=MAX_SIDE).contains(&self.height) {
            return Err(Error::GridSize {
                width: self.width,
                height: self.height,
            });
        }
        if self.cells.len() != self.width as usize * self.height as usize {
            return Err(Error::CellCount {
                width: self.width,
                height: self.height,
                len: self.cells.len(),
            });
        }
        if let Some((index, &value)) = self.cells.iter().enumerate().find(|(_, &c)| c < 0) {
            return Err(Error::Heat { index, value });
        }
        Ok(())
    }

    /// One step of the rule, exactly as the `diffuse` pass computes it.
    pub fn step(&self) -> Grid {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut next = self.cells.clone();
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let u = self.cells[i];
                let mut delta = 0;
                if x > 0 {
                    delta += (self.cells[i - 1] - u) / 8;
                }
                if x + 1 < w {
                    delta += (self.cells[i + 1] - u) / 8;
                }
                if y > 0 {
                    delta += (self.cells[i - w] - u) / 8;
                }
                if y + 1 < h {
                    delta += (self.cells[i + w] - u) / 8;
                }
                next[i] = u + delta;
            }
        }
        Grid {
            cells: next,
            ..*self
        }
    }

    /// The grid after `steps` steps.
    pub fn run(&self, steps: u32) -> Grid {
        (0..steps).fold(self.clone(), |g, _| g.step())
    }
}

fn check_steps(steps: u32) -> Result<(), Error> {
    if (1..=MAX_STEPS).contains(&steps) {
        Ok(())
    } else {
        Err(Error::Steps { steps })
    }
}

/// The job that runs `steps` steps from `grid`: passes `init`, `diffuse` × `steps`, `finish`
/// (`steps + 2` dispatches).
pub fn job(grid: &Grid, steps: u32) -> Result<JobDescriptor, Error> {
    grid.check()?;
    check_steps(steps)?;
    let workgroups = [
        grid.width.div_ceil(WORKGROUP_SIDE),
        grid.height.div_ceil(WORKGROUP_SIDE),
        1,
    ];
    let cells = grid.cells.len() as u64;
    let manifest = Manifest::new(
        SHADER,
        vec![2 * cells * 4],
        vec![
            Pass::new("init", workgroups),
            Pass::new("diffuse", workgroups).repeat(steps),
            Pass::new("finish", workgroups).args([steps, 0, 0, 0]),
        ],
    );
    let mut params = [0u8; PARAMS_LEN];
    params[..4].copy_from_slice(&grid.width.to_le_bytes());
    params[4..8].copy_from_slice(&grid.height.to_le_bytes());
    Ok(manifest.into_job(grid.to_bytes(), cells * 4, params))
}

/// The exact output of [`job`]: the grid after `steps` steps, as bytes.
pub fn cpu_reference(grid: &Grid, steps: u32) -> Result<Vec<u8>, Error> {
    grid.check()?;
    check_steps(steps)?;
    Ok(grid.run(steps).to_bytes())
}

#[cfg(test)]
mod tests {
    use compute_market_job::{validate_job, Caps, DeterminismClass, Limits};

    use super::*;

    #[test]
    fn the_job_validates_as_exact_with_steps_plus_two_dispatches() {
        let grid = Grid::demo(100, 60);
        let job = job(&grid, DEFAULT_STEPS).unwrap();
        let info = validate_job(&job, &Limits::default(), &Caps::default()).unwrap();
        assert_eq!(info.determinism, DeterminismClass::Exact);
        assert_eq!(info.workgroup_size, [8, 8, 1]);
        assert_eq!(job.dispatch_count(), u64::from(DEFAULT_STEPS) + 2);
        assert_eq!(job.entry_points(), ["init", "diffuse", "finish"]);
        assert_eq!(job.workgroups, [13, 8, 1]);
        assert_eq!(job.scratch, [2 * 100 * 60 * 4]);
        assert_eq!(job.output_len, 100 * 60 * 4);
        assert_eq!(job.input, grid.to_bytes());
        assert_eq!(job.passes[2].args, [DEFAULT_STEPS, 0, 0, 0]);
        assert_eq!(&job.params[..8], &[100, 0, 0, 0, 60, 0, 0, 0]);
        let most = super::job(&grid, MAX_STEPS).unwrap();
        validate_job(&most, &Limits::default(), &Caps::default()).unwrap();
    }

    #[test]
    fn one_step_moves_an_eighth_of_each_difference() {
        let line = Grid {
            width: 3,
            height: 1,
            cells: vec![80, 0, 7],
        };
        // 80 → 0: 10; 7 → 0: 0 (7 / 8 truncates).
        assert_eq!(line.step().cells, [70, 10, 7]);
        let mut plate = Grid::zeros(3, 3);
        plate.cells[4] = 803;
        assert_eq!(
            plate.step().cells,
            [0, 100, 0, 100, 403, 100, 0, 100, 0],
            "a centre cell loses an eighth to each of four neighbours"
        );
    }

    #[test]
    fn heat_is_conserved_and_spreads_within_the_initial_range() {
        let start = Grid::demo(48, 32);
        let (max0, total) = (*start.cells.iter().max().unwrap(), start.total());
        let mut grid = start.clone();
        let mut previous_max = max0;
        for _ in 0..300 {
            grid = grid.step();
            assert_eq!(grid.total(), total, "exactly conserved");
            let max = *grid.cells.iter().max().unwrap();
            assert!(max <= previous_max && *grid.cells.iter().min().unwrap() >= 0);
            previous_max = max;
        }
        assert!(previous_max < max0 / 20, "{previous_max} of {max0}");
        let warm = grid.cells.iter().filter(|&&c| c > 0).count();
        assert!(warm > 48 * 32 * 3 / 4, "{warm} cells warm");
        assert_eq!(cpu_reference(&start, 300).unwrap(), grid.to_bytes());
        assert_eq!(
            Grid::from_bytes(48, 32, &grid.to_bytes()).unwrap(),
            grid,
            "the output decodes to the grid"
        );
    }

    #[test]
    fn a_mirror_symmetric_start_stays_symmetric() {
        let (w, h) = (21, 9);
        let mut grid = Grid::zeros(w, h);
        for y in 0..h as usize {
            for x in 0..w as usize {
                let d = x.abs_diff(w as usize / 2) + y;
                grid.cells[y * w as usize + x] = (1000 * (d % 5) + 7 * d) as i32;
            }
        }
        let out = grid.run(57);
        for row in out.cells.chunks_exact(w as usize) {
            assert!(row.iter().eq(row.iter().rev()));
        }
    }

    #[test]
    fn bad_grids_and_step_counts_are_refused() {
        let grid = Grid::demo(16, 16);
        assert_eq!(job(&grid, 0).unwrap_err(), Error::Steps { steps: 0 });
        assert_eq!(
            cpu_reference(&grid, MAX_STEPS + 1).unwrap_err(),
            Error::Steps {
                steps: MAX_STEPS + 1
            }
        );
        assert!(matches!(
            job(&Grid::zeros(0, 4), 1),
            Err(Error::GridSize { .. })
        ));
        let mut short = grid.clone();
        short.cells.pop();
        assert!(matches!(job(&short, 1), Err(Error::CellCount { .. })));
        let mut negative = grid;
        negative.cells[5] = -1;
        assert_eq!(
            job(&negative, 1).unwrap_err(),
            Error::Heat {
                index: 5,
                value: -1
            }
        );
    }
}
