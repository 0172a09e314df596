-- dim_week_days: the reporting week of every day in dim_weeks' range, so a mart dates a
-- fact by joining its local date here instead of repeating the week arithmetic.
-- Grain: one row per day (DATE, report time zone). Sources: ${dim}.dim_weeks.
-- A fact dated outside the range gets no week (the marts report only dim_weeks' weeks).
CREATE OR REPLACE TABLE `${project}.${dim}.dim_week_days` AS
SELECT day, w.week_start
FROM `${project}.${dim}.dim_weeks` AS w
CROSS JOIN UNNEST(GENERATE_DATE_ARRAY(w.week_start, w.week_end)) AS day;
