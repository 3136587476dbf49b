"""Operations: backups with verified restores, database maintenance, deploy smoke tests.

Framework-free: the Airflow DAGs in dags/ and the `pricehawk db backup | restore`,
`pricehawk smoke` commands call these functions.
"""
