import ArgumentParser
import Foundation
import SVDBatch
import SVDMedia
import SVDModels

/// `svdbatch [run] JOBS.csv …`: the batch renderer, and the default subcommand.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Render every job of a CSV job list into clips (the default subcommand: `svdbatch jobs.csv` runs it).",
        discussion: """
            The job list is CSV with a header row. Required columns: image (path relative to the CSV's \
            folder), seed (a decimal integer in [-2^63, 2^64)). Optional columns, an empty cell meaning the \
            default: name, model, width (1024), height (576), num_frames (the model's), num_inference_steps (25), \
            fps (7), motion_bucket_id (127), noise_aug_strength (0.02), min_guidance_scale (1.0), \
            max_guidance_scale (3.0), decode_chunk_size (num_frames), format (--format).

            Each job writes NAME.EXT into the output folder, NAME defaulting to <image stem>-s<seed>. A clip \
            that exists with the same job_key is skipped as up to date; any other file in the way is a \
            conflict and is left alone unless --force. After every denoising step the job's state is saved \
            as .NAME.state, so an interrupted run resumes where it stopped, with identical frames. \
            manifest.jsonl (manifest-shard-K-of-N.jsonl with --shard) gets one JSON line per job per run.

            Examples:
              svdbatch Samples/jobs.csv --out Output/
              svdbatch jobs.csv --model stabilityai/stable-video-diffusion-img2vid-xt
              svdbatch jobs.csv --out /srv/clips --shard 3/8 --quiet
              svdbatch jobs.csv --dry-run

            Exit status: 0 every job rendered or was up to date; 1 a row was invalid or a job failed or met a \
            conflict; 2 usage error or fatal problem (unreadable CSV, unknown column, default model missing); \
            75 another run holds this output folder and shard; 130/143 stopped by SIGINT/SIGTERM (the \
            checkpoint is kept: run again to resume).
            """
    )

    @Argument(help: ArgumentHelp("The job list: CSV with a header row naming its columns (image and seed are required).",
                                 valueName: "JOBS.csv"))
    var jobs: String

    @Option(name: .long, help: ArgumentHelp(
        "Folder for the clips, checkpoints, lock file and manifest; created if missing. Example: --out /srv/clips",
        valueName: "DIR"))
    var out = "Output"

    @Option(help: ArgumentHelp(
        "Model for rows without a model column: a diffusers folder, or a Hugging Face repository id already in the local cache (HF_HUB_CACHE, HF_HOME/hub or ~/.cache/huggingface/hub; never downloaded). `demo` is the bundled demo model (random weights). Default: $SVDBATCH_MODEL, else, on a terminal only, the demo model; an unattended run without a model is an error. Example: --model stabilityai/stable-video-diffusion-img2vid-xt",
        valueName: "DIR|REPO_ID"))
    var model: String?

    @Option(help: ArgumentHelp(
        "Weight files to load: fp16 (*.fp16.safetensors) or fp32. Default: fp32 when present, else fp16. Computation is float32 either way. Example: --variant fp16",
        valueName: "fp16|fp32"),
        transform: { text in
            guard let variant = WeightVariant(rawValue: text.lowercased()) else {
                throw ValidationError("--variant '\(text)' is not fp16 or fp32")
            }
            return variant
        })
    var variant: WeightVariant?

    @Option(help: ArgumentHelp(
        "Clip format for rows without a format column: mp4 (H.264, plays everywhere), webm (VP9) or mkv (lossless FFV1, exact frames). Example: --format mkv",
        valueName: "mp4|webm|mkv"))
    var format: ClipFormat = .mp4

    @Option(help: ArgumentHelp(
        "Constant-quality level: mp4 0–51 (default 18), webm 0–63 (default 30); lower means better and bigger. mkv rows are lossless and ignore it. A value outside --format's range is a usage error. Example: --crf 23",
        valueName: "N"))
    var crf: Int?

    @Flag(help: "Also write each rendered job's frames as PNG: NAME_frames/frame_0000.png, frame_0001.png, … (jobs skipped as up to date are not re-rendered for this). The folder (with a hidden .svdbatch-job file naming its job) is written under a hidden name and renamed into place whole, replacing an earlier folder of the same job; a NAME_frames folder or file the job did not write is a conflict and is left alone unless --force.")
    var saveFrames = false

    @Option(help: ArgumentHelp(
        "Render only shard K of N (0 ≤ K < N): the jobs whose output file name hashes to K. N machines with K = 0…N-1 split one CSV with no overlap and no coordination, even into one folder. Example (Slurm array): --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT",
        valueName: "K/N"))
    var shard: String?

    @Flag(help: "Replace files in the way of a job (a different job's clip, a file without a recipe, or with --save-frames a NAME_frames folder the job did not write) instead of reporting a conflict, and render up-to-date clips again.")
    var force = false


    @OptionGroup var rendering: RenderingOptions

    func validate() throws {
        // Checked against --format's range here: otherwise every row of that format would be rejected (exit 1).
        let crfRange = format.crfRange ?? 0...63
        if let crf, !crfRange.contains(crf) {
            throw ValidationError("--crf \(crf) is outside \(crfRange.lowerBound)–\(crfRange.upperBound)"
                + (format.crfRange == nil ? "" : " (the range of --format \(format.rawValue))"))
        }
        if let shard { _ = try parsedShard(shard) }
    }

    private func parsedShard(_ text: String) throws -> Shard {
        do { return try Shard(parsing: text) } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        var options = BatchOptions(csvPath: jobs)
        options.settings = rendering.settings(force: force)
        options.outputDirectory = out
        options.model = model
        options.variant = variant
        options.format = format
        options.crf = crf
        options.saveFrames = saveFrames
        options.shard = try shard.map(parsedShard)
        try RenderingOptions.execute(stopping: "; the checkpoint is kept") { Batch.run(options, stop: $0).status }
    }
}
