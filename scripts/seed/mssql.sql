-- Seed for the SQL Server extract tests (docker compose --profile sources): run once by the mssql-seed
-- service with sqlcmd. Creates database LEGACY with dbo.CUSTOMERS.
IF DB_ID('LEGACY') IS NULL CREATE DATABASE LEGACY;
GO
USE LEGACY;
GO
IF OBJECT_ID('dbo.CUSTOMERS') IS NOT NULL DROP TABLE dbo.CUSTOMERS;
CREATE TABLE dbo.CUSTOMERS (
  CUST_ID   int            NOT NULL PRIMARY KEY,
  CUST_CODE char(8)        NOT NULL,
  NAME      varchar(40)    NULL,
  BALANCE   decimal(12,2)  NULL,
  OPENED    date           NULL,
  LAST_UPD  datetime2(6)   NOT NULL,
  BIG       bigint         NULL,
  RAW_ID    varbinary(4)   NULL
);
CREATE INDEX CUSTOMERS_WM ON dbo.CUSTOMERS (LAST_UPD, CUST_ID);
INSERT INTO dbo.CUSTOMERS VALUES
  (1, 'C001', 'Ada', 1234.50, '1999-12-31', '2024-01-01 08:00:00', 9007199254740993, 0x00FF),
  (2, 'C002', NULL, -0.01, NULL, '2024-01-02 09:30:00.25', NULL, NULL),
  (3, 'C003', 'Bo  ', 99999999.99, '2000-02-29', '2024-01-02 09:30:00.25', 1, NULL),
  (4, 'C004', 'Cy', 0.00, '1970-01-01', '2024-01-03 00:00:00', -5, NULL),
  (5, 'C005', 'Dee', 10.10, '2024-02-29', '2024-01-04 23:59:59.999999', 0, NULL);
GO
