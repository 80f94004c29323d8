"""The names runs are written with and read back by: params, tags and
artifacts that the writers (cli, tune, tracking) and the readers (report,
resume, route pairing) share. A rename here renames both sides."""

# params every extraction run carries besides its flattened config
MODEL = "model"
ROUTE = "route"
PROMPT = "prompt"
MODE = "mode"
SHOTS = "shots"
SELECTION = "selection"
SEED = "seed"
BASELINE = "baseline"  # "true" for a backend that predicts labels itself (keyword, tfidf-logreg): reads no prompt
DATASET = "dataset"
DATASET_DIGEST = "dataset_digest"
PROTOCOL = "protocol"  # also a tag
PROTOCOL_DEPARTURES = "protocol_departures"
PROTOCOL_UNVERIFIABLE = "protocol_unverifiable"
CONFIG_HASH = "config_hash"  # one grid cell (harness.identity): resume finds finished runs by it
CELL_SETTINGS = "cell_settings"  # the same cell's settings without its data: resume says when the data changed
# harness.identity.comparison_keys: equal for two runs the report compares by route, model or pool
COMPARISON_KEYS = {
    "route": "comparison_key",
    "model": "comparison_key.model",
    "pool": "comparison_key.pool",
    "prompt": "comparison_key.prompt",
    "draws": "comparison_key.draws",
}  # prompt: what a model reads (two models pair only if equal)
TRANSLATOR_MODEL = "translator.model.name"  # flattened config: which translations a run read
WEIGHTS = "weights"  # tag: the weight format the model computes with (GGUF Q4_K_M dequantized, bfloat16, ...)
POOL = "pool"  # real | synthetic: where the examples came from (also a tag)
POOL_FILE = "prompt.pool_file"  # flattened config: the synthetic pool's file (none for a real pool)
POOL_DIGEST = "pool_digest"  # the synthetic pool file's digest
POOL_GENERATOR = "pool_generator"  # the model that wrote it (its harness-synth state)

# tags
ROLE = "harness.role"  # study | trial | report | synth; extraction runs have none
STUDY = "harness.study"
OPTUNA_STUDY = "optuna_study"  # the final test run of a tuning study
INTERRUPTED = "harness.interrupted"

# artifacts
PREDICTIONS = "predictions.jsonl"
PREDICTIONS_TABLE = "predictions_table.json"  # the same rows as an MLflow table (the UI's artifact table view)
TRANSLATIONS = "translations.jsonl"
EXAMPLES = "shots.json"
