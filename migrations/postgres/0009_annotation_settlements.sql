-- Several annotators (PostgreSQL dialect; keep in step with ../sqlite/0009_annotation_settlements.sql).
-- Each annotator's latest row per prefix is their label; a prefix's label for the next seed is
-- the latest settlement (an admin's row with settles = 1) where there is one, else the label
-- every annotator who labelled it gave; annotators who disagree leave it disputed, used by no
-- seed until an admin settles it. With one annotator this is the latest row, as before.
ALTER TABLE annotations ADD COLUMN settles INTEGER NOT NULL DEFAULT 0;
