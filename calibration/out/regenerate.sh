#!/bin/sh
# Regenerate every calibration output quoted in docs/validation.md (run from the repository root).
set -e
PY=.venv/bin/python
O=calibration/out
$PY -m calibration.cli calibrate calibration/dk_police.toml --chart $O/dk_police_fit.svg --table $O/dk_police_fit.json > $O/dk_police_fit.txt
$PY -m calibration.cli calibrate calibration/dk_defence.toml --chart $O/dk_defence_fit.svg --table $O/dk_defence_fit.json > $O/dk_defence_fit.txt
$PY -m calibration.cli backtest calibration/dk_police.toml --cutoff 2019 --out $O/dk_police_backtest_2019.json --chart $O/dk_police_backtest_2019.svg > $O/dk_police_backtest_2019.txt
$PY -m calibration.cli backtest calibration/dk_police.toml --cutoff 2020 --out $O/dk_police_backtest_2020.json --chart $O/dk_police_backtest_2020.svg > $O/dk_police_backtest_2020.txt
$PY -m calibration.cli backtest $O/dk_police_no_graduates_2019.toml --cutoff 2019 --out $O/dk_police_no_grad2019_backtest_2019.json > $O/dk_police_no_grad2019_backtest_2019.txt
$PY -m calibration.cli backtest calibration/dk_defence.toml --cutoff 2020 --out $O/dk_defence_backtest_2020.json --chart $O/dk_defence_backtest_2020.svg > $O/dk_defence_backtest_2020.txt
$PY -m calibration.cli calibrate $O/dk_defence_no_privates_2022.toml --chart $O/dk_defence_no_privates_2022.svg > $O/dk_defence_no_privates_2022.txt
$PY -m calibration.cli calibrate calibration/dk_dema.toml --chart $O/dk_dema_fit.svg --table $O/dk_dema_fit.json > $O/dk_dema_fit.txt
$PY -m calibration.cli calibrate calibration/cph_leaders.toml --chart $O/cph_leaders_fit.svg --table $O/cph_leaders_fit.json > $O/cph_leaders_fit.txt
$PY $O/admissions_probe.py > $O/dk_police_admissions_probe.txt
# Experiment (not shipped; docs/validation.md section 2): the published admission counts in the model.
X=$O/experiments
$PY -m calibration.cli calibrate $X/dk_police_published_counts.toml --chart $X/dk_police_published_counts_fit.svg --table $X/dk_police_published_counts_fit.json > $X/dk_police_published_counts_fit.txt
$PY -m calibration.cli backtest $X/dk_police_published_counts.toml --cutoff 2019 --out $X/dk_police_published_counts_backtest_2019.json > $X/dk_police_published_counts_backtest_2019.txt
$PY -m calibration.cli backtest $X/dk_police_published_counts.toml --cutoff 2020 --out $X/dk_police_published_counts_backtest_2020.json > $X/dk_police_published_counts_backtest_2020.txt
$PY -m calibration.cli backtest $X/dk_police_published_counts_no_graduates_2019.toml --cutoff 2019 --out $X/dk_police_published_counts_no_grad2019_backtest_2019.json > $X/dk_police_published_counts_no_grad2019_backtest_2019.txt
$PY -m calibration.cli calibrate $X/dk_police_published_counts_incl_students.toml --table $X/dk_police_published_counts_incl_students_fit.json > $X/dk_police_published_counts_incl_students_fit.txt
$PY -m calibration.cli calibrate $X/dk_police_published_counts_2x192.toml --table $X/dk_police_published_counts_2x192_fit.json > $X/dk_police_published_counts_2x192_fit.txt
