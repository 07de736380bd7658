import ArgumentParser
import Foundation
import SVDBatch
import SVDMedia

/// `svdbatch sweep IMAGE --seeds … [--vary KEY=V1,V2,…]…`: a parameter study of one image as batch jobs, then
/// a labelled comparison grid.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Render one image with every combination of seeds and varied values, then a labelled comparison grid.",
        discussion: """
            Every cell is an ordinary batch job named <image stem>-s<seed>-<key><value>… (e.g. \
            cat-s42-motion_bucket_id180.mp4), rendered exactly as `svdbatch run` renders a CSV row with those \
            values: a clip that is already there with the same job_key is skipped, an interrupted cell resumes \
            from its checkpoint, and manifest.jsonl gets one line per cell (csv = "sweep:<image path>", \
            line = the cell's number, row by row). Then <image stem>-grid.<ext> tiles the cells, one column per \
            seed and one row per combination of the varied values, both axes labelled, with its contact sheet \
            <image stem>-grid.png.

            Running the same sweep again renders nothing that is up to date, and rebuilds the grid only if it \
            is missing or its cells changed. A grid file of other clips, or a contact sheet without its grid, \
            is a conflict, left alone unless --force.

            KEY is a job-list column (see `svdbatch run --help`): width, height, num_frames, \
            num_inference_steps, fps, motion_bucket_id, noise_aug_strength, min_guidance_scale, \
            max_guidance_scale, decode_chunk_size, format, model. Values follow the same rules as CSV cells.

            Examples:
              svdbatch sweep cat.png --seeds 1,2,3 --vary motion_bucket_id=60,127,180 --out study/
                (9 clips and study/cat-grid.mp4: what does motion_bucket_id do to this image?)
              svdbatch sweep cat.png --seeds 7 --vary noise_aug_strength=0,0.05,0.1 --vary fps=6,12 \\
                --set width=512 --set height=288 --set num_inference_steps=12 --dry-run

            Exit status: 0 every cell rendered or was up to date and the grid is built or up to date; 1 a cell \
            failed or met a conflict (the grid is then not built), or the grid met a conflict or could not be \
            written; 2 usage error (the message names the option and value), unreadable image, model missing; \
            75 another run holds the output folder; 130/143 stopped by SIGINT/SIGTERM (run again to resume).
            """
    )

    @Argument(help: ArgumentHelp("The input image (PNG, JPEG, WebP, …).", valueName: "IMAGE"))
    var image: String

    @Option(help: ArgumentHelp(
        "Folder for the cells, the grid, checkpoints, lock and manifest; created if missing. Example: --out study/",
        valueName: "DIR"))
    var out = "Output"

    @Option(help: ArgumentHelp(
        "Seeds, comma-separated: one grid column each. Each is a decimal integer in [-2^63, 2^64). Example: --seeds 1,2,3",
        valueName: "S1,S2,…"))
    var seeds: String

    @Option(help: ArgumentHelp(
        "A parameter and the values to try (repeatable): one grid row per combination of all --vary values. Example: --vary motion_bucket_id=60,127,180",
        valueName: "KEY=V1,V2,…"))
    var vary: [String] = []

    @Option(name: .customLong("set"), help: ArgumentHelp(
        "A parameter fixed for every cell (repeatable). Example: --set num_inference_steps=12",
        valueName: "KEY=VALUE"))
    var fixed: [String] = []

    @Option(help: ArgumentHelp(
        "A diffusers folder, or a Hugging Face repository id already in the local cache (never downloaded). `demo` is the bundled demo model (random weights). Default: $SVDBATCH_MODEL, else, on a terminal only, the demo model; an unattended run without a model is an error. Example: --model stabilityai/stable-video-diffusion-img2vid-xt",
        valueName: "DIR|REPO_ID"))
    var model: String?

    @Option(help: ArgumentHelp(
        "Format of the cells and the grid: mp4 (H.264, the default), webm (VP9) or mkv (lossless FFV1). Example: --format mkv",
        valueName: "mp4|webm|mkv"))
    var format: ClipFormat?

    @Flag(help: "Replace files in the way of a cell or of the grid (another job's clip, another sweep's grid, a file without a recipe). Up-to-date cells are still skipped.")
    var force = false


    @OptionGroup var rendering: RenderingOptions

    func run() throws {
        var options = SweepOptions(imagePath: image, seeds: seeds)
        options.settings = rendering.settings(force: force)
        options.vary = vary
        options.set = fixed
        options.outputDirectory = out
        options.model = model
        options.format = format
        try RenderingOptions.execute(stopping: "; the checkpoint is kept") { Sweep.run(options, stop: $0).status }
    }
}
