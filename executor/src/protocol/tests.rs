//! Round trips of every frame, and the bounds checks of shared-memory requests.

use super::*;

#[test]
fn job_round_trips() {
    let job = JobDescriptor {
        wgsl: b"fn main() {}".to_vec(),
        entry_point: "main".into(),
        workgroups: [3, 2, 1],
        input: vec![1, 2, 3, 4],
        output_len: 16,
        params: [7; PARAMS_LEN],
        ..JobDescriptor::default()
    };
    let mut frame = Vec::new();
    write_frame(
        &mut frame,
        &encode_job_header(&job, false, None),
        &job.input,
    )
    .unwrap();
    let payload = read_frame(&mut frame.as_slice()).unwrap();
    let request = decode_job(payload, None).unwrap();
    assert_eq!((request.job, request.profile), (job, false));

    let multi = compute_market_job::Manifest::new(
        "fn a() {}",
        vec![64, 128],
        vec![
            Pass::new("a", [3, 2, 1]),
            Pass::new("b", [1, 1, 1]).repeat(9).args([1, 2, 3, 4]),
        ],
    )
    .into_job(vec![5; 8], 32, [1; PARAMS_LEN]);
    let mut frame = Vec::new();
    write_frame(
        &mut frame,
        &encode_job_header(&multi, true, None),
        &multi.input,
    )
    .unwrap();
    let payload = read_frame(&mut frame.as_slice()).unwrap();
    let request = decode_job(payload, None).unwrap();
    assert_eq!((request.job, request.profile), (multi, true));
}

#[cfg(target_os = "linux")]
#[test]
fn shared_memory_jobs_carry_offsets_checked_against_the_region() {
    let layout = crate::shm::Layout::new(4096, 4096);
    let mut region = Region::create(layout.len()).unwrap();
    let job = JobDescriptor {
        input: vec![1, 2, 3, 4],
        output_len: 8,
        ..JobDescriptor::default()
    };
    region.write_at(0, &job.input).unwrap();
    let io = SharedIo {
        input_offset: 0,
        output_offset: layout.output_offset,
    };
    let header = encode_job_header(&job, false, Some(io));
    // Inline bytes would make no difference: the input comes from the region.
    let request = decode_job(header.clone(), Some(&region)).unwrap();
    assert_eq!(request.job, job);
    assert_eq!(request.output_offset, Some(layout.output_offset));
    assert!(decode_job(header, None).is_err());
    // An output (or input) beyond the region is refused before anything is read.
    let too_far = SharedIo {
        output_offset: layout.len() - 4,
        ..io
    };
    assert!(decode_job(encode_job_header(&job, false, Some(too_far)), Some(&region)).is_err());
    let beyond = SharedIo {
        input_offset: u64::MAX - 1,
        ..io
    };
    assert!(decode_job(encode_job_header(&job, false, Some(beyond)), Some(&region)).is_err());
}

#[test]
fn done_round_trips_with_its_bulk_output() {
    let run = Ok(DeviceRun {
        output: vec![9, 8, 7, 6],
        determinism: DeterminismClass::Float,
        timings: DeviceTimings {
            dispatch: Duration::from_micros(1500),
            pipeline_cached: true,
            ..DeviceTimings::default()
        },
        pass_times: vec![Duration::from_micros(700), Duration::from_micros(800)],
    });
    let (header, bulk) = encode_result(&run, true);
    assert!(bulk.is_empty());
    let decoded = decode_response(header).unwrap();
    assert!(matches!(
        decoded,
        Response::Done {
            output: Output::Shared(4),
            ..
        }
    ));
    let (header, bulk) = encode_result(&run, false);
    let mut frame = Vec::new();
    write_frame(&mut frame, &header, bulk).unwrap();
    let decoded = decode_response(read_frame(&mut frame.as_slice()).unwrap()).unwrap();
    let Response::Done {
        output,
        determinism,
        timings,
        pass_times,
    } = decoded
    else {
        panic!("{decoded:?}")
    };
    assert_eq!(pass_times.len(), 2);
    assert_eq!(output, Output::Inline(vec![9, 8, 7, 6]));
    assert_eq!(determinism, DeterminismClass::Float);
    assert_eq!(timings.dispatch, Duration::from_micros(1500));
    assert!(timings.pipeline_cached);
}

#[test]
fn frames_round_trip_and_reject_oversize() {
    let mut buf = Vec::new();
    write_frame(&mut buf, b"hel", b"lo").unwrap();
    assert_eq!(read_frame(&mut buf.as_slice()).unwrap(), b"hello");
    let huge = (MAX_FRAME + 1).to_le_bytes();
    assert!(read_frame(&mut huge.as_slice()).is_err());
    assert!(decode_response(vec![RESP_DONE, 1]).is_err());
}

#[test]
fn validation_request_and_verdicts_round_trip() {
    let caps = Caps {
        max_output_len: 1 << 10,
        ..Caps::default()
    };
    let limits = Limits::default();
    let mut frame = Vec::new();
    write_frame(
        &mut frame,
        &encode_validate(&["main", "step"], &limits, &caps),
        b"wgsl",
    )
    .unwrap();
    let request = decode_validate(read_frame(&mut frame.as_slice()).unwrap()).unwrap();
    assert_eq!(
        request,
        ValidateRequest {
            wgsl: b"wgsl".to_vec(),
            entry_points: vec!["main".into(), "step".into()],
            limits,
            caps
        }
    );
    let info = ShaderInfo {
        workgroup_size: [64, 2, 1],
        determinism: DeterminismClass::Float,
        declares_input: true,
        declares_params: false,
        input_min_len: 4,
        output_min_len: 8,
        workgroup_storage_bytes: 16,
        private_memory_bytes: 32,
        scratch_min_len: [Some(64), None, Some(4), None],
    };
    let rejected = AbiError::Parse {
        message: "expected `)`".into(),
        location: Some(Location { line: 3, column: 9 }),
        diagnostic: "error: expected `)`".into(),
    };
    for verdict in [Ok(info), Err(rejected)] {
        let decoded = decode_response(encode_verdict(&verdict)).unwrap();
        let Response::Verdict(back) = decoded else {
            panic!("{decoded:?}")
        };
        assert_eq!(back, verdict);
    }
}
