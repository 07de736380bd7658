import ArgumentParser
import Foundation
import SVDBatch
import SVDMedia

/// `svdbatch rerender CLIP …`: renders a clip's recipe again, to verify it, copy it, or vary it.
struct RerenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rerender",
        abstract: "Render the job recorded in a clip again: verify it reproduces bit for bit, or make a variation.",
        discussion: """
            The input image is looked for at --image, then at the path the recipe recorded, then at the path \
            as written in the job list taken from the clip's folder and from the current folder, then among \
            the images under --images-dir. It must have the recorded pixels (a losslessly re-saved copy is \
            fine; a different image is refused). The model is --model, else the recorded one (also from the \
            clip's folder), $SVDBATCH_MODEL or the bundled demo model, and its fingerprint must be the \
            recipe's. Both problems stop with status 2 and list every place searched.

            Without options, the same job is rendered again into the clip's folder, which only makes sense \
            with --out (a copy elsewhere) or --format (the same frames in another container). A clip already \
            there with the same job_key is left as it is (--force renders it again); the clip being \
            re-rendered is never written over. A clip written goes through the same steps as a job of \
            `svdbatch run`: the folder's run lock, a checkpoint after every step (an interrupted rerender \
            resumes when run again), an atomic write and a line in the folder's manifest.jsonl.

            Examples:
              svdbatch rerender Output/cat-s42.mp4 --verify
                reproduced: bit-exact (…)
              svdbatch rerender Output/cat-s42.mp4 --set motion_bucket_id=180
                writes Output/cat-s42-motion_bucket_id180.mp4, whose recipe records derived_from and changes
              svdbatch rerender archive/cat-s42.mp4 --images-dir ~/Pictures --format mkv --out lossless/
              svdbatch rerender Output/cat-s42.mp4 --verify --out /tmp/check --threads 1
              svdbatch rerender Output/cat-s42.mp4 --set num_inference_steps=40 --dry-run

            Exit status: 0 done (with --verify: bit-exact); 1 --verify found different frames, or the render \
            or the write failed; 2 usage error, unreadable clip or recipe, image or model not the recorded \
            one, invalid --set value, encoder settings in the recipe that are not svdbatch's standard ones, a \
            file in the way without --force; 75 another run holds the output folder's lock; 130/143 stopped by \
            SIGINT/SIGTERM.
            """
    )

    @Argument(help: ArgumentHelp("A clip written by svdbatch (mp4, webm or mkv); its recipe is rendered again.", valueName: "CLIP"))
    var clip: String

    @Option(help: ArgumentHelp(
        "Folder for the clip written; default: the clip's folder. With --verify, a clip is written only if --out is given. Example: --out reproduced/",
        valueName: "DIR"))
    var out: String?

    @Option(help: ArgumentHelp(
        "The input image, if it is not where the recipe says; it must have the recorded pixels. Example: --image ~/photos/cat.png",
        valueName: "PATH"))
    var image: String?

    @Option(help: ArgumentHelp(
        "A folder (searched with its subfolders) holding the input image under any name; found by its pixel hash. Example: --images-dir ~/photos",
        valueName: "DIR"))
    var imagesDir: String?

    @Option(help: ArgumentHelp(
        "Where the recorded model is: a diffusers folder or a Hugging Face repository id in the local cache; its fingerprint must match the recipe's. Example: --model /models/svd-xt",
        valueName: "DIR|REPO_ID"))
    var model: String?

    @Option(name: .customLong("set"), help: ArgumentHelp(
        "Render a variation with this job-list column changed (repeatable; any column but image), named <clip stem>-<key><value>…. Example: --set motion_bucket_id=180",
        valueName: "KEY=VALUE"))
    var fixed: [String] = []

    @Option(help: ArgumentHelp(
        "Container and encoder of the clip written: mp4, webm or mkv (lossless); never changes the frames. Default: the recorded one. Example: --format mkv",
        valueName: "mp4|webm|mkv"))
    var format: ClipFormat?

    @Flag(help: "Replace a file in the way (another job's clip, a file without a recipe), or render again a clip that is up to date.")
    var force = false


    @Flag(help: "Render in memory and compare with the recipe's frames_sha256: prints 'reproduced: bit-exact' (exit 0) or per-frame differences and what differs about the machine (exit 1). Not with --set.")
    var verify = false

    // --verify with --set, and the other combinations of options, are checked by `Rerender` (exit 2).
    @OptionGroup var rendering: RenderingOptions

    func run() throws {
        var options = RerenderOptions(clipPath: clip)
        options.settings = rendering.settings(force: force)
        options.outputDirectory = out
        options.imagePath = image
        options.imagesDirectory = imagesDir
        options.model = model
        options.set = fixed
        options.format = format
        options.verify = verify
        try RenderingOptions.execute(stopping: "") { Rerender.run(options, stop: $0).status }
    }
}
