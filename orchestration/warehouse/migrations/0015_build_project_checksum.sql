-- What a build built with: a checksum of the dbt project's files and the settings that shape its
-- SQL (orchestration/defs/transform/project.py). A build that finds nothing written since the
-- last successful build is skipped only when that build had the same checksum: a new model, a
-- changed view or seed is built although no event arrived.
alter table app.build_watermarks add column if not exists project_checksum text;
